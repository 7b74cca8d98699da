package core

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/internal/quote"
)

// Target names who a send goes to: everyone, the members of one or more
// rooms, or connections by ID (each connection once), minus the sending
// connection when it was made from a Conn, minus what Except, ExceptIDs and
// ExceptRooms name. Build one with Hub.Broadcast, Hub.To, Hub.ToIDs,
// Conn.Broadcast or Conn.To, and refine it with the methods that return a
// Target. A Target is a small value; it is safe to use from any goroutine.
//
// Every send is encoded once and the same frame is queued for every
// recipient. On a hub with a Broker, sends, exclusions and Close reach the
// other hubs too (see Broker for the at-most-once guarantee); EmitWithAck
// and the counts returned concern this hub's connections only.
type Target struct {
	hub         *Hub
	rooms       []string
	conns       []string // connection IDs (ToIDs)
	all         bool
	remote      bool     // delivering for another hub: never published again
	sender      *Conn    // the connection the target was made from, excluded
	except      []string // excluded connection IDs
	exceptRooms []string
	volatile    bool // recovery: not kept (Volatile)
}

// Broadcast targets every connection of the hub (and, with a broker, of
// every hub).
func (h *Hub) Broadcast() Target { return Target{hub: h, all: true} }

// To targets the members of the named rooms, each connection once.
func (h *Hub) To(rooms ...string) Target { return Target{hub: h, rooms: rooms} }

// ToIDs targets the connections with the given IDs (Conn.ID): a user's
// connections, say. An ID held by another hub is reached through the
// broker (its ID names its hub); without a broker, or for an ID of no live
// connection, nothing is sent to it and no error is returned. Its name
// pairs with Target.ExceptIDs, as To pairs with ExceptRooms.
func (h *Hub) ToIDs(ids ...string) Target { return Target{hub: h, conns: ids} }

// ToConn is the old name of ToIDs.
//
// Deprecated: use ToIDs, whose name says that it takes connection IDs.
func (h *Hub) ToConn(ids ...string) Target { return h.ToIDs(ids...) }

// Broadcast targets every connection of the hub except c.
func (c *Conn) Broadcast() Target { return Target{hub: c.hub, all: true, sender: c} }

// To targets the members of the named rooms except c.
func (c *Conn) To(rooms ...string) Target { return Target{hub: c.hub, rooms: rooms, sender: c} }

// To adds rooms to the target.
func (t Target) To(rooms ...string) Target {
	t.rooms = append(t.rooms[:len(t.rooms):len(t.rooms)], rooms...)
	return t
}

// Except leaves the given connections out of the target, like Socket.IO's
// except and melody's BroadcastOthers. Nil connections are ignored.
func (t Target) Except(conns ...*Conn) Target {
	ids := slices.Clip(t.except)
	for _, c := range conns {
		if c != nil {
			ids = append(ids, c.id)
		}
	}
	t.except = ids
	return t
}

// ExceptIDs leaves out the connections with the given IDs, which may be
// held by other hubs sharing a broker.
func (t Target) ExceptIDs(ids ...string) Target {
	t.except = append(slices.Clip(t.except), ids...)
	return t
}

// ExceptRooms leaves out every member of the named rooms, on every hub.
// Membership is read when the message is delivered.
func (t Target) ExceptRooms(rooms ...string) Target {
	t.exceptRooms = append(slices.Clip(t.exceptRooms), rooms...)
	return t
}

// Emit sends the event {"event":event,"data":data}, encoded once, and
// returns how many connections of this hub it was queued for.
func (t Target) Emit(event string, data any) (int, error) {
	b, err := encodeEvent(event, data, 0)
	if err != nil {
		return 0, err
	}
	if t.hub.rec != nil && !t.volatile && !t.remote {
		return t.emitKept(b) // recovery: kept in histories (recovery.go)
	}
	return t.deliver(websocket.TextMessage, b)
}

// Send sends a text message and returns how many connections of this hub
// it was queued for.
func (t Target) Send(text string) (int, error) {
	if !utf8.ValidString(text) {
		return 0, ErrInvalidUTF8
	}
	return t.deliver(websocket.TextMessage, []byte(text))
}

// SendBinary sends a binary message and returns how many connections of
// this hub it was queued for. data is not retained after the call.
func (t Target) SendBinary(data []byte) (int, error) {
	return t.deliver(websocket.BinaryMessage, append([]byte(nil), data...))
}

// SendJSON sends v encoded as JSON in a text message.
func (t Target) SendJSON(v any) (int, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	return t.deliver(websocket.TextMessage, b)
}

// Close closes every connection of the target gracefully with code and
// reason (what is queued is sent first): kick a room with
// hub.To(room).Close(4000, "room closed"), or end a user's connections with
// hub.ToIDs(ids...).Close(...). With a broker, the members on other hubs
// are closed too. It returns how many connections of this hub were asked to
// close, and an error for a code a close frame may not carry (see
// Conn.Close).
func (t Target) Close(code int, reason string) (int, error) {
	if !validCloseCode(code) {
		return 0, &CloseError{Code: code, Reason: reason, Err: ErrInvalidCloseCode}
	}
	if err := t.validate(); err != nil {
		return 0, err
	}
	reason = quote.Cut(reason, maxCloseReason)
	n := t.closeLocal(code, reason)
	if t.hub.broker != nil && !t.remote {
		t.publish(websocket.TextMessage, []byte(reason), code)
	}
	return n, nil
}

// closeLocal closes the target's connections on this hub.
func (t Target) closeLocal(code int, reason string) int {
	n := 0
	t.forEach(func(c *Conn) {
		c.closeGraceful(code, reason)
		n++
	})
	return n
}

// deliver queues one encoded message for every member of the target and
// publishes it to the other hubs when the hub has a broker.
func (t Target) deliver(mt int, data []byte) (int, error) {
	n, err := t.deliverLocal(mt, data)
	if err == nil && t.hub.broker != nil && !t.remote {
		t.publish(mt, data, 0)
	}
	return n, err
}

// deliverLocal queues one encoded message for every member of the target on
// this hub. The frame is prepared once and shared; enqueue never blocks.
func (t Target) deliverLocal(mt int, data []byte) (int, error) {
	if t.hub.isClosing() {
		return 0, ErrHubClosed
	}
	if err := t.validate(); err != nil {
		return 0, err
	}
	o, err := newShared(mt, data)
	if err != nil {
		return 0, err
	}
	n := 0
	list := flushPool.Get().(*[]*Conn)
	t.forEach(func(c *Conn) {
		start, err := c.push(o, true)
		if err == nil {
			n++
		}
		if start {
			*list = append(*list, c)
		}
	})
	switch {
	case len(*list) >= flushMin:
		go flushAll(list) // one goroutine writes to every idle member
	default:
		for i, c := range *list {
			go c.writeLoop()
			(*list)[i] = nil
		}
		*list = (*list)[:0]
		flushPool.Put(list)
	}
	return n, nil
}

// validate checks the room names of the target.
func (t Target) validate() error {
	for _, r := range t.rooms {
		if !ValidRoomName(r) {
			return invalidRoom(r)
		}
	}
	for _, r := range t.exceptRooms {
		if !ValidRoomName(r) {
			return invalidRoom(r)
		}
	}
	return nil
}

// exceptSetMin is the number of excluded IDs from which a set beats a
// linear scan.
const exceptSetMin = 8

// forEach calls fn for every connection of this hub the target names, each
// once, minus the excluded ones. fn must not block.
func (t Target) forEach(fn func(*Conn)) {
	h := t.hub
	var skipIDs map[string]struct{}
	if len(t.except) >= exceptSetMin {
		skipIDs = make(map[string]struct{}, len(t.except))
		for _, id := range t.except {
			skipIDs[id] = struct{}{}
		}
	}
	var skipConns map[*Conn]struct{}
	if len(t.exceptRooms) > 0 {
		skipConns = h.memberSet(t.exceptRooms)
	}
	visit := func(c *Conn) {
		if c == t.sender {
			return
		}
		if len(t.except) > 0 {
			if skipIDs != nil {
				if _, ok := skipIDs[c.id]; ok {
					return
				}
			} else if slices.Contains(t.except, c.id) {
				return
			}
		}
		if skipConns != nil {
			if _, ok := skipConns[c]; ok {
				return
			}
		}
		fn(c)
	}
	if t.all {
		for _, c := range h.Connections() {
			visit(c)
		}
		return
	}
	if len(t.rooms) == 1 && len(t.conns) == 0 {
		for _, c := range h.members(t.rooms[0]) {
			visit(c)
		}
		return
	}
	seen := make(map[*Conn]struct{})
	once := func(c *Conn) {
		if _, dup := seen[c]; !dup {
			seen[c] = struct{}{}
			visit(c)
		}
	}
	for _, name := range t.rooms {
		for _, c := range h.members(name) {
			once(c)
		}
	}
	for _, id := range t.conns {
		if c := h.Conn(id); c != nil {
			once(c)
		}
	}
}

// memberSet returns the members of the named rooms on this hub.
func (h *Hub) memberSet(rooms []string) map[*Conn]struct{} {
	set := make(map[*Conn]struct{})
	h.roomsMu.RLock()
	defer h.roomsMu.RUnlock()
	for _, name := range rooms {
		if r := h.rooms[name]; r != nil {
			for _, c := range r.list {
				set[c] = struct{}{}
			}
		}
	}
	return set
}

// AckResult is one connection's answer to Target.EmitWithAck: the data of
// its reply, or an error: the *EventError the client replied with,
// ErrClosed when the connection closed first, ErrQueueFull when the request
// could not be queued, or the context's error (context.DeadlineExceeded)
// when no reply came in time.
type AckResult struct {
	// ConnID is the ID of the connection that answered.
	ConnID string
	// Data is the raw JSON of the reply's data when Err is nil.
	Data json.RawMessage
	// Err is why there is no reply, or nil.
	Err error
}

// EmitWithAck emits event to every connection of the target on this hub,
// asking each for a reply, and waits until every one has answered or ctx
// ends. It returns one AckResult per connection that was a member when it
// was called, in no particular order: a reply, or an error for each member
// that closed, refused, or had not answered when ctx ended
// (ctx.Err()). The message is encoded once and shared, so memory grows with
// the number of members only by one small record each.
//
// Members on other hubs sharing a broker are not asked: acks are local to
// this hub. EmitWithAck blocks its caller; called from an event handler of
// a member of the target, that member's reply can only be read once the
// handler returns, so it ends as ctx's error. Use EmitWithAckFunc in
// handlers.
func (t Target) EmitWithAck(ctx context.Context, event string, data any) ([]AckResult, error) {
	s, err := t.emitAcks(event, data, 0, nil)
	if err != nil {
		return nil, err
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		s.expire(ctx.Err())
		<-s.done
	}
	return s.results, nil
}

// EmitWithAckFunc is EmitWithAck without blocking: it queues the request
// for every member of the target on this hub and calls fn once with the
// results when every one has answered, or after timeout with
// context.DeadlineExceeded for those that have not. It returns how many
// connections were asked. It starts no goroutine: fn runs on the read
// goroutine of the last member to answer, on a timer goroutine, or before
// EmitWithAckFunc returns when no member is left to wait for; it must not
// block. Safe to call from event handlers.
func (t Target) EmitWithAckFunc(event string, data any, timeout time.Duration, fn func([]AckResult)) (int, error) {
	if fn == nil {
		fn = func([]AckResult) {}
	}
	s, err := t.emitAcks(event, data, timeout, fn)
	if err != nil {
		return 0, err
	}
	return len(s.results), nil
}

// ackSet collects the replies to one EmitWithAck.
type ackSet struct {
	id    uint64
	conns []*Conn
	done  chan struct{} // closed once every result is in

	mu       sync.Mutex
	results  []AckResult
	answered []bool
	pending  int
	finished bool
	timer    *time.Timer       // EmitWithAckFunc's timeout
	onDone   func([]AckResult) // EmitWithAckFunc's callback
}

// sharedAckBase starts the range of ack IDs shared by every member of a
// Target's EmitWithAck: far above the per-connection IDs (which count from
// 1), and below 2^53 so that JavaScript reads them exactly.
const sharedAckBase = 1 << 52

// sharedAcks numbers Target acks, process-wide.
var sharedAcks atomic.Uint64

// emitAcks encodes the request once, with one ack ID for every member, and
// queues it for each member with a callback that records its answer. With
// onDone, a timer expires the set after timeout and onDone gets the
// results.
func (t Target) emitAcks(event string, data any, timeout time.Duration, onDone func([]AckResult)) (*ackSet, error) {
	h := t.hub
	if h.isClosing() {
		return nil, ErrHubClosed
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	s := &ackSet{id: sharedAckBase + sharedAcks.Add(1), done: make(chan struct{}), onDone: onDone}
	b, err := encodeEvent(event, data, s.id)
	if err != nil {
		return nil, err
	}
	o, err := newShared(websocket.TextMessage, b)
	if err != nil {
		return nil, err
	}
	t.forEach(func(c *Conn) { s.conns = append(s.conns, c) })
	s.results = make([]AckResult, len(s.conns))
	s.answered = make([]bool, len(s.conns))
	s.pending = len(s.conns)
	if s.pending == 0 {
		s.finished = true
		s.complete()
		return s, nil
	}
	for i, c := range s.conns {
		s.results[i].ConnID = c.id
		if err := c.registerAck(s.id, func(d json.RawMessage, err error) { s.answer(i, d, err) }); err != nil {
			s.answer(i, nil, err)
			continue
		}
		if err := c.enqueue(o, true); err != nil && c.takeAck(s.id) != nil {
			s.answer(i, nil, err)
		}
	}
	if onDone != nil {
		s.mu.Lock()
		if !s.finished {
			s.timer = time.AfterFunc(timeout, func() { s.expire(context.DeadlineExceeded) })
		}
		s.mu.Unlock()
	}
	return s, nil
}

// registerAck records fn as the callback for the reply with ack ID id.
func (c *Conn) registerAck(id uint64, fn AckFunc) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return ErrClosed
	}
	if c.acks == nil {
		c.acks = make(map[uint64]AckFunc, 1)
	}
	c.acks[id] = fn
	return nil
}

// answer records member i's reply; the last one completes the set.
func (s *ackSet) answer(i int, data json.RawMessage, err error) {
	s.mu.Lock()
	if s.finished || s.answered[i] {
		s.mu.Unlock()
		return
	}
	s.answered[i] = true
	s.results[i].Data, s.results[i].Err = data, err
	s.pending--
	last := s.pending == 0
	if last {
		s.finished = true
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	s.mu.Unlock()
	if last {
		s.complete()
	}
}

// expire completes the set with err for every member that has not
// answered, and forgets their pending callbacks.
func (s *ackSet) expire(err error) {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	s.finished = true
	if s.timer != nil {
		s.timer.Stop()
	}
	var late []*Conn
	for i := range s.results {
		if !s.answered[i] {
			s.results[i].Err = err
			late = append(late, s.conns[i])
		}
	}
	s.mu.Unlock()
	for _, c := range late {
		c.takeAck(s.id)
	}
	s.complete()
}

// complete hands over the results, once the set has finished.
func (s *ackSet) complete() {
	close(s.done)
	if s.onDone != nil {
		s.onDone(s.results)
	}
}
