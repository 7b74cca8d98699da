package protocol

import (
	"encoding/json"
	"fmt"

	"github.com/rushws/rushws/core"
)

// NoReply is the reply type of a client event that is not acknowledged
// with data: its handler returns NoReply{}, the client receives a null ack
// reply if it asked for one, and the generated TypeScript says void.
type NoReply struct{}

// MarshalJSON encodes NoReply as null, so that an ack reply carries no data.
func (NoReply) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// Event is one declared event, made by Client or Server, to gather in a
// Protocol with New. Only this package implements it.
type Event interface {
	// Name is the event's name on the wire.
	Name() string
	// FromClient reports whether the client sends the event (true) or the
	// server does (false).
	FromClient() bool
	sealed()
}

// ClientEvent is an event the client sends, with data of type D, to which
// the server replies with an R when the client asks for an ack. Make one
// with Client.
type ClientEvent[D, R any] struct{ name string }

// Client declares an event the client sends: its data decodes into a D and
// its handler returns the R sent back as the ack reply (use NoReply for
// none). It panics when name can never be an event name (see
// core.ValidEventName), since a declaration is fixed program text.
func Client[D, R any](name string) ClientEvent[D, R] {
	mustValid(name)
	return ClientEvent[D, R]{name: name}
}

// Name is the event's name on the wire.
func (e ClientEvent[D, R]) Name() string { return e.name }

// FromClient is true: the client sends this event.
func (e ClientEvent[D, R]) FromClient() bool { return true }

func (ClientEvent[D, R]) sealed() {}

// Handle sets c's handler for the event: the data is decoded into a D
// before fn runs (data that does not decode gets a bad_request error naming
// the field and the type expected, and the connection stays open, as with
// core.Handle), and fn's R is the ack reply when the client asked for one.
// An error from fn goes to the client as with core.EventFunc: return a
// *core.EventError to choose its code. Handle returns core.ErrInvalidEvent
// when the name is reserved by the wire protocol.
func (e ClientEvent[D, R]) Handle(c *core.Conn, fn func(c *core.Conn, data D) (R, error)) error {
	if fn == nil {
		return fmt.Errorf("protocol: Handle %q: fn is nil", e.name)
	}
	return core.Handle(c, e.name, func(c *core.Conn, data D) (any, error) {
		r, err := fn(c, data)
		if err != nil {
			return nil, err
		}
		return r, nil
	})
}

// Off removes c's handler for the event.
func (e ClientEvent[D, R]) Off(c *core.Conn) { c.Off(e.name) }

// ServerEvent is an event the server sends with data of type D. Make one
// with Server.
type ServerEvent[D any] struct{ name string }

// Server declares an event the server sends with data of type D. It panics
// when name can never be an event name (see core.ValidEventName), since a
// declaration is fixed program text.
func Server[D any](name string) ServerEvent[D] {
	mustValid(name)
	return ServerEvent[D]{name: name}
}

// Name is the event's name on the wire.
func (e ServerEvent[D]) Name() string { return e.name }

// FromClient is false: the server sends this event.
func (e ServerEvent[D]) FromClient() bool { return false }

func (ServerEvent[D]) sealed() {}

// Emit sends the event to one connection; see core.Conn.Emit.
func (e ServerEvent[D]) Emit(c *core.Conn, data D) error { return c.Emit(e.name, data) }

// EmitTo sends the event to a target (a room, everyone, minus some) and
// returns how many local connections it was queued for; see
// core.Target.Emit. c.To(room) leaves the sender out, hub.To(room) does
// not:
//
//	Said.EmitTo(c.To("lobby"), msg)
func (e ServerEvent[D]) EmitTo(t core.Target, data D) (int, error) { return t.Emit(e.name, data) }

// Encode returns the event's wire message, as Emit would send it: for
// tests, logs and relays that write frames themselves.
func (e ServerEvent[D]) Encode(data D) ([]byte, error) {
	return json.Marshal(struct {
		Event string `json:"event"`
		Data  D      `json:"data"`
	}{e.name, data})
}

func mustValid(name string) {
	if !core.ValidEventName(name) {
		panic(fmt.Sprintf("protocol: invalid event name %s: an event name is 1 to 128 bytes of printable UTF-8", quote(name)))
	}
}

// quote quotes s for a message, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}
