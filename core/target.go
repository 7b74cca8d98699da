package core

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Target names who a send goes to: everyone, or the members of one or more
// rooms (each connection once), minus the sending connection when it was
// made from a Conn. Build one with Hub.Broadcast, Hub.To, Conn.Broadcast or
// Conn.To. A Target is a small value; it is safe to use from any goroutine.
type Target struct {
	hub    *Hub
	rooms  []string
	all    bool
	except *Conn
}

// Broadcast targets every connection of the hub.
func (h *Hub) Broadcast() Target { return Target{hub: h, all: true} }

// To targets the members of the named rooms, each connection once.
func (h *Hub) To(rooms ...string) Target { return Target{hub: h, rooms: rooms} }

// Broadcast targets every connection of the hub except c.
func (c *Conn) Broadcast() Target { return Target{hub: c.hub, all: true, except: c} }

// To targets the members of the named rooms except c.
func (c *Conn) To(rooms ...string) Target { return Target{hub: c.hub, rooms: rooms, except: c} }

// To adds rooms to the target.
func (t Target) To(rooms ...string) Target {
	t.rooms = append(t.rooms[:len(t.rooms):len(t.rooms)], rooms...)
	return t
}

// Emit sends the event {"event":event,"data":data}, encoded once, and
// returns how many connections it was queued for.
func (t Target) Emit(event string, data any) (int, error) {
	b, err := encodeEvent(event, data, 0)
	if err != nil {
		return 0, err
	}
	return t.deliver(websocket.TextMessage, b)
}

// Send sends a text message and returns how many connections it was queued
// for.
func (t Target) Send(text string) (int, error) {
	if !utf8.ValidString(text) {
		return 0, ErrInvalidUTF8
	}
	return t.deliver(websocket.TextMessage, []byte(text))
}

// SendBinary sends a binary message and returns how many connections it was
// queued for. data is not retained after the call.
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

// deliver queues one encoded message for every member of the target. The
// frame is prepared once and shared; enqueue never blocks.
func (t Target) deliver(mt int, data []byte) (int, error) {
	h := t.hub
	if h.isClosing() {
		return 0, ErrHubClosed
	}
	for _, r := range t.rooms {
		if !ValidRoomName(r) {
			return 0, ErrInvalidRoom
		}
	}
	pm, err := websocket.NewPreparedMessage(mt, data)
	if err != nil {
		return 0, err
	}
	o := outbound{kind: kindPrepared, pm: pm, n: len(data)}
	n := 0
	send := func(c *Conn) {
		if c == t.except {
			return
		}
		if c.enqueue(o, true) == nil {
			n++
		}
	}
	switch {
	case t.all:
		for _, c := range h.Connections() {
			send(c)
		}
	case len(t.rooms) == 1:
		for _, c := range h.members(t.rooms[0]) {
			send(c)
		}
	case len(t.rooms) > 1:
		seen := make(map[*Conn]struct{})
		for _, name := range t.rooms {
			for _, c := range h.members(name) {
				if _, dup := seen[c]; dup {
					continue
				}
				seen[c] = struct{}{}
				send(c)
			}
		}
	}
	return n, nil
}
