package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rushws/rushws/internal/quote"
)

// EventFunc handles one event. data is the raw JSON of the envelope's
// "data" field (null when absent). When the client asked for an ack, the
// returned value (or error) is sent back as the reply; otherwise a returned
// error is sent as an "error" event. Return an *EventError to choose the code
// the client sees, or a *CloseError to close the connection.
type EventFunc func(c *Conn, data json.RawMessage) (any, error)

// AckFunc receives the client's reply to EmitWithAckFunc: its data, or an
// *EventError the client sent, or an error such as context.DeadlineExceeded
// or ErrClosed.
type AckFunc func(data json.RawMessage, err error)

type eventEntry struct {
	fn   EventFunc
	once bool
}

// reserved event names may not be handled with On nor sent with Emit: the
// wire protocol and browsers give them meanings of their own.
var reserved = map[string]bool{"error": true, "message": true, "close": true, "ping": true, "pong": true, "connect": true,
	"session": true, "recover": true} // recovery's own messages

// ReservedEventNames returns, sorted, the event names an application may
// neither handle with On nor send with Emit or a Target: the library sends
// "error" (errors reported to the client) and "session" (recovery) itself,
// and the JS client uses the others for its own lifecycle events, so an
// application event with one of these names would be mistaken for them.
func ReservedEventNames() []string {
	names := make([]string, 0, len(reserved))
	for name := range reserved {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// eventNameError returns ErrInvalidEvent for an event name that is invalid
// or reserved, saying which and why.
func eventNameError(event string) error {
	if reserved[event] {
		return fmt.Errorf("%w: %s is reserved; choose another name (reserved: %s)", ErrInvalidEvent, quoteCut(event), strings.Join(ReservedEventNames(), ", "))
	}
	return fmt.Errorf("%w: %s (an event name is 1 to 128 bytes of printable UTF-8)", ErrInvalidEvent, quoteCut(event))
}

// ValidEventName reports whether name may be used as an event: 1 to 128
// bytes of printable UTF-8.
func ValidEventName(name string) bool {
	if len(name) == 0 || len(name) > 128 || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// On sets the handler for event on this connection, replacing any previous
// one. mw is event middleware for this event alone, run after the hub's and
// the route's (see EventMiddlewareFunc). It returns ErrInvalidEvent for an
// invalid or reserved name (see ReservedEventNames), saying which.
func (c *Conn) On(event string, fn EventFunc, mw ...EventMiddlewareFunc) error {
	return c.on(event, fn, false, mw)
}

// Once is like On, but the handler is removed after its first call.
func (c *Conn) Once(event string, fn EventFunc, mw ...EventMiddlewareFunc) error {
	return c.on(event, fn, true, mw)
}

func (c *Conn) on(event string, fn EventFunc, once bool, mw []EventMiddlewareFunc) error {
	if !ValidEventName(event) || reserved[event] {
		return eventNameError(event)
	}
	if fn == nil {
		return fmt.Errorf("rushws: the handler for event %s is nil", quoteCut(event))
	}
	if len(mw) > 0 {
		fn = wrapEvent(fn, mw)
	}
	c.mu.Lock()
	c.events.set(event, eventEntry{fn: fn, once: once})
	c.mu.Unlock()
	return nil
}

// Off removes the handler for event.
func (c *Conn) Off(event string) {
	c.mu.Lock()
	c.events.del(event)
	c.mu.Unlock()
}

// Handle registers a typed handler: the event's data is decoded into a T
// before fn runs. Data that does not decode gets a bad_request error (event
// or ack error) and the connection stays open. mw is event middleware for
// this event alone; it runs before the data is decoded.
func Handle[T any](c *Conn, event string, fn func(c *Conn, msg T) (any, error), mw ...EventMiddlewareFunc) error {
	return c.On(event, func(c *Conn, data json.RawMessage) (any, error) {
		var msg T
		if err := json.Unmarshal(data, &msg); err != nil {
			return nil, &EventError{Code: CodeBadRequest, Message: decodeMessage(event, err)}
		}
		return fn(c, msg)
	}, mw...)
}

// decodeMessage explains why an event's data did not decode: the field, the
// JSON type found and the Go type expected, as encoding/json reports them.
func decodeMessage(event string, err error) string {
	prefix := "data for " + strconv.Quote(event)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Sprintf("%s: got JSON %s, want %s", prefix, te.Value, jsonKind(te.Type))
		}
		return fmt.Sprintf("%s: field %q: got JSON %s, want %s", prefix, te.Field, te.Value, jsonKind(te.Type))
	case errors.As(err, &se):
		return prefix + ": malformed JSON"
	}
	return prefix + ": " + strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// EmitWithAck emits event with an ack id and waits for the client's reply,
// until ctx ends or the connection closes. It returns ErrAckInHandler at
// once when called while the connection's route handler or one of its own
// event handlers runs (the reply could not be read before that handler
// returns); use EmitWithAckFunc there.
func (c *Conn) EmitWithAck(ctx context.Context, event string, data any) (json.RawMessage, error) {
	if c.dispatching.Load() {
		return nil, ErrAckInHandler
	}
	type result struct {
		data json.RawMessage
		err  error
	}
	ch := make(chan result, 1)
	id, err := c.emitAck(event, data, func(d json.RawMessage, err error) { ch <- result{d, err} })
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.data, r.err
	case <-ctx.Done():
		c.takeAck(id)
		return nil, ctx.Err()
	}
}

// EmitWithAckFunc emits event with an ack id and calls fn once with the
// client's reply, or with context.DeadlineExceeded after timeout, or with
// ErrClosed when the connection closes first. It never blocks, so it is safe
// inside the connection's own event handlers. fn runs on the connection's
// read goroutine or a timer goroutine and must not block.
func (c *Conn) EmitWithAckFunc(event string, data any, timeout time.Duration, fn AckFunc) error {
	var id uint64
	var timer *time.Timer
	wrapped := func(d json.RawMessage, err error) {
		if timer != nil {
			timer.Stop()
		}
		fn(d, err)
	}
	c.mu.Lock() // hold off the reply until the timer is set
	id, err := c.emitAckLocked(event, data, wrapped)
	if err == nil && timeout > 0 {
		timer = time.AfterFunc(timeout, func() {
			if f := c.takeAck(id); f != nil {
				fn(nil, context.DeadlineExceeded)
			}
		})
	}
	after := c.afterClosingLocked() // the policy may have closed it
	c.mu.Unlock()
	after()
	if err == nil {
		c.startWriterIfQueued()
	}
	return err
}

func (c *Conn) emitAck(event string, data any, fn AckFunc) (uint64, error) {
	c.mu.Lock()
	id, err := c.emitAckLocked(event, data, fn)
	after := c.afterClosingLocked() // the policy may have closed it
	c.mu.Unlock()
	after()
	if err == nil {
		c.startWriterIfQueued()
	}
	return id, err
}

// emitAckLocked registers fn and queues the event. c.mu is held; the
// caller starts the writer.
func (c *Conn) emitAckLocked(event string, data any, fn AckFunc) (uint64, error) {
	if c.state != stateOpen {
		return 0, ErrClosed
	}
	c.nextAck++
	id := c.nextAck
	b, err := appendEvent(newFrameBuf(64), event, data, id)
	if err != nil {
		return 0, err
	}
	o := sealedOut(b, opText)
	if c.queueBytes > 0 && c.overLocked(len(o.frame)) && c.fullLocked(len(o.frame)) {
		return 0, c.applyPolicyLocked()
	}
	if c.acks == nil {
		c.acks = make(map[uint64]AckFunc, 1)
	}
	c.acks[id] = fn
	c.appendLocked(o)
	c.queued++
	c.queueBytes += len(o.frame)
	return id, nil
}

// startWriterIfQueued starts the writer when messages wait and none runs.
func (c *Conn) startWriterIfQueued() {
	c.mu.Lock()
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// takeAck removes and returns the pending ack callback for id.
func (c *Conn) takeAck(id uint64) AckFunc {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn := c.acks[id]
	delete(c.acks, id)
	return fn
}

// envelope is the inbound wire form of events and ack replies.
type envelope struct {
	Event *string         `json:"event"`
	Data  json.RawMessage `json:"data"`
	Ack   *uint64         `json:"ack"`
	Error *EventError     `json:"error"`
}

// outEnvelope is the outbound wire form of events and ack replies.
type outEnvelope struct {
	Event string      `json:"event,omitempty"`
	Data  any         `json:"data,omitempty"`
	Ack   uint64      `json:"ack,omitempty"`
	Error *EventError `json:"error,omitempty"`
}

// encodeEvent encodes an event envelope. A nil data is sent as null.
func encodeEvent(event string, data any, ack uint64) ([]byte, error) {
	return appendEvent(make([]byte, 0, 32+len(event)), event, data, ack)
}

// appendEvent appends the event envelope {"event":...,"data":...[,"ack":n]}
// to dst. It refuses reserved names: the application's events go through
// it; the library's own ("error", "session") through encodeOwnEvent.
func appendEvent(dst []byte, event string, data any, ack uint64) ([]byte, error) {
	if reserved[event] {
		return nil, eventNameError(event)
	}
	return appendAnyEvent(dst, event, data, ack)
}

// encodeOwnEvent encodes an event the library itself sends, reserved names
// included.
func encodeOwnEvent(event string, data any) ([]byte, error) {
	return appendAnyEvent(make([]byte, 0, 32+len(event)), event, data, 0)
}

// appendAnyEvent is appendEvent without the reserved names' check.
func appendAnyEvent(dst []byte, event string, data any, ack uint64) ([]byte, error) {
	if !ValidEventName(event) {
		return nil, eventNameError(event)
	}
	dst = append(dst, `{"event":`...)
	ev, _ := json.Marshal(event)
	dst = append(dst, ev...)
	dst = append(dst, `,"data":`...)
	d, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("rushws: event %s: data cannot be encoded: %w", quoteCut(event), err)
	}
	dst = append(dst, d...)
	if ack > 0 {
		dst = append(dst, `,"ack":`...)
		dst = strconv.AppendUint(dst, ack, 10)
	}
	return append(dst, '}'), nil
}

// quoteCut quotes user input for an error or a log line, cut to 64 bytes.
func quoteCut(s string) string { return quote.Input(s, maxQuoted) }

// dispatchText handles one inbound text message on the read goroutine.
func (c *Conn) dispatchText(data []byte) error {
	var env envelope
	isObject := len(bytes.TrimLeft(data, " \t\r\n")) > 0 && bytes.TrimLeft(data, " \t\r\n")[0] == '{'
	if !isObject {
		return c.dispatchRaw(TextMessage, data, CodeBadRequest, "expected a JSON event message")
	}
	if err := json.Unmarshal(data, &env); err != nil {
		var syn *json.SyntaxError
		msg := "event message does not have the expected shape"
		if errors.As(err, &syn) {
			msg = "malformed JSON"
		}
		return c.dispatchRaw(TextMessage, data, CodeBadRequest, msg)
	}
	if env.Event == nil {
		if env.Ack != nil { // a reply to EmitWithAck
			if fn := c.takeAck(*env.Ack); fn != nil {
				if env.Error != nil {
					fn(nil, env.Error)
				} else {
					fn(env.Data, nil)
				}
			}
			return nil
		}
		return c.dispatchRaw(TextMessage, data, CodeBadRequest, "missing event name")
	}
	name := *env.Event
	var ack uint64
	if env.Ack != nil {
		ack = *env.Ack
	}
	if !ValidEventName(name) {
		return c.reply(ack, nil, &EventError{Code: CodeBadRequest, Message: "invalid event name"}, "")
	}
	c.mu.Lock()
	e, ok := c.events.get(name)
	if ok && e.once {
		c.events.del(name)
	}
	c.mu.Unlock()
	if !ok {
		c.mu.Lock()
		raw := c.onMessage
		c.mu.Unlock()
		if raw != nil {
			return c.callRaw(raw, TextMessage, data)
		}
		return c.reply(ack, nil, &EventError{Code: CodeUnknownEvent, Message: "no handler for event " + strconv.Quote(quote.Cut(name, maxCloseReason))}, "")
	}
	if len(env.Data) == 0 {
		env.Data = json.RawMessage("null")
	}
	c.dispatching.Store(true)
	res, err := c.runEvent(name, e.fn, env.Data) // event middleware: eventmw.go
	c.dispatching.Store(false)
	return c.reply(ack, res, err, name)
}

// dispatchRaw hands a frame to the raw handler, or reports the error code
// and message to the client when there is none.
func (c *Conn) dispatchRaw(mt int, data []byte, code, message string) error {
	c.mu.Lock()
	raw := c.onMessage
	c.mu.Unlock()
	if raw != nil {
		return c.callRaw(raw, mt, data)
	}
	return c.reply(0, nil, &EventError{Code: code, Message: message}, "")
}

func (c *Conn) callRaw(fn MessageFunc, mt int, data []byte) error {
	c.dispatching.Store(true)
	err := fn(c, mt, data)
	c.dispatching.Store(false)
	return c.reply(0, nil, err, "(raw message handler)")
}

// reply answers an ack (when ack > 0) or reports err, returned by the named
// handler (an event name, for logs), as an error event. A
// *CloseError is returned to the read loop, which closes the connection.
func (c *Conn) reply(ack uint64, res any, err error, handler string) error {
	if ack == 0 && err == nil {
		return nil // the common case, without the allocations of errors.As
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce
	}
	var ee *EventError
	if err != nil && !errors.As(err, &ee) {
		c.hub.stats.errors.Add(1)
		c.hub.log.Error("rushws: handler error", "conn", c.id, "event", handler, "err", err)
		ee = &EventError{Code: CodeInternal, Message: "internal error"}
	}
	var b []byte
	var merr error
	switch {
	case ack > 0:
		out := outEnvelope{Ack: ack, Data: res, Error: ee}
		if ee != nil {
			out.Data = nil
		}
		b, merr = json.Marshal(out)
		if merr != nil { // the handler's result cannot be encoded
			c.hub.stats.errors.Add(1)
			c.hub.log.Error("rushws: ack result cannot be encoded", "conn", c.id, "err", merr)
			b, _ = json.Marshal(outEnvelope{Ack: ack, Error: &EventError{Code: CodeInternal, Message: "internal error"}})
		}
	case ee != nil:
		b, _ = encodeOwnEvent("error", ee)
	default:
		return nil
	}
	_ = c.enqueue(dataOut(opText, b), true) // on failure, the slow-consumer policy has acted
	return nil
}
