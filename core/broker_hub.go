package core

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// hubBroker is a hub's link to its Broker. It remembers which rooms it has
// asked the broker to subscribe, so that Subscribe and Unsubscribe follow
// the rooms' existence in order, however joins and leaves interleave.
type hubBroker struct {
	b Broker

	// mu serialises Subscribe and Unsubscribe. It is taken before
	// h.roomsMu, never while it is held, and the broker's deliveries never
	// take it: a broker that delivers while holding its own lock cannot
	// deadlock with a join.
	mu         sync.Mutex
	subscribed map[string]struct{}
	closed     bool
}

// startBroker links the hub to cfg.Broker, when there is one. NewHub calls
// it last, so deliveries find the hub ready.
func (h *Hub) startBroker() error {
	if h.cfg.Broker == nil {
		return nil
	}
	h.broker = &hubBroker{b: h.cfg.Broker, subscribed: make(map[string]struct{})}
	if err := h.cfg.Broker.Start(h.id, h.deliverRemote); err != nil {
		return fmt.Errorf("rushws: starting the broker: %w", err)
	}
	return nil
}

// closeBroker closes the broker once, at the end of Shutdown or Close,
// after every connection has left its rooms.
func (h *Hub) closeBroker() error {
	hb := h.broker
	if hb == nil {
		return nil
	}
	hb.mu.Lock()
	if hb.closed {
		hb.mu.Unlock()
		return nil
	}
	hb.closed = true
	hb.mu.Unlock()
	if err := hb.b.Close(); err != nil {
		return fmt.Errorf("rushws: closing the broker: %w", err)
	}
	return nil
}

// syncSubscriptions brings the broker's subscriptions for the named rooms
// in line with the rooms that exist now: a room that exists is subscribed,
// one that does not is unsubscribed. Join and Leave call it after
// releasing h.roomsMu for the rooms they created or emptied; whichever call
// runs last sees the final state, so a join racing the last leave never
// leaves a room with members unsubscribed.
func (h *Hub) syncSubscriptions(rooms []string) {
	hb := h.broker
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.closed {
		return
	}
	for _, name := range rooms {
		h.roomsMu.RLock()
		_, exists := h.rooms[name]
		h.roomsMu.RUnlock()
		_, subscribed := hb.subscribed[name]
		switch {
		case exists && !subscribed:
			hb.subscribed[name] = struct{}{}
			hb.b.Subscribe(name)
		case !exists && subscribed:
			delete(hb.subscribed, name)
			hb.b.Unsubscribe(name)
		}
	}
}

// publish sends what t delivered locally to the other hubs: one message for
// the rooms or for everyone, and one per connection ID held by another hub.
// closeCode makes it a close command (Target.Close) with data as reason.
// Errors are the broker's to count (Stats().Broker.PublishErrors); the
// send has already reached this hub's members, and delivery across hubs is
// at most once.
func (t Target) publish(mt int, data []byte, closeCode int) {
	h := t.hub
	m := BrokerMessage{
		Hub:         h.id,
		Except:      t.exceptIDs(),
		ExceptRooms: slices.Clone(t.exceptRooms),
		Binary:      mt == BinaryMessage,
		Data:        data,
		CloseCode:   closeCode,
	}
	b := h.broker.b
	ctx := context.Background() // the broker applies its own deadline
	switch {
	case t.all:
		m.All = true
		_ = b.Publish(ctx, m)
		return
	case len(t.rooms) > 0:
		m.Rooms = slices.Clone(t.rooms)
		_ = b.Publish(ctx, m)
	}
	for _, id := range t.conns {
		if hub := HubOf(id); hub == "" || hub == h.id {
			continue // held here, or not a connection ID
		}
		cm := m
		cm.Rooms, cm.Conn = nil, id
		cm.All = h.rec != nil // recovery: a recovered ID may no longer name its hub; every hub looks it up
		if len(t.rooms) > 0 { // a member of a targeted room has it already
			cm.ExceptRooms = append(slices.Clone(t.exceptRooms), t.rooms...)
		}
		_ = b.Publish(ctx, cm)
	}
}

// exceptIDs returns the connection IDs a published message must skip: the
// sender's and those given to Except and ExceptIDs, in a new slice.
func (t Target) exceptIDs() []string {
	if t.sender == nil && len(t.except) == 0 {
		return nil
	}
	ids := make([]string, 0, len(t.except)+1)
	if t.sender != nil {
		ids = append(ids, t.sender.id)
	}
	return append(ids, t.except...)
}

// deliverRemote is the hub's side of Broker.Start: it delivers what another
// hub published to this hub's members, encoded once for all of them, each
// connection once, minus the excluded ones. It runs on the broker's
// goroutine and never publishes.
func (h *Hub) deliverRemote(m BrokerMessage) {
	if m.Hub == h.id || h.isClosing() {
		return
	}
	t := Target{hub: h, rooms: m.Rooms, all: m.All, except: m.Except, exceptRooms: m.ExceptRooms, remote: true}
	if m.Conn != "" {
		if HubOf(m.Conn) != h.id && (h.rec == nil || h.Conn(m.Conn) == nil) {
			return
		}
		t.all = false // with recovery, All+Conn reaches every hub (see publish, takeOver)
		t.conns = []string{m.Conn}
	}
	if !t.all && len(t.rooms) == 0 && len(t.conns) == 0 {
		return
	}
	if m.CloseCode != 0 {
		if m.CloseCode == CloseSessionMoved && m.Conn != "" {
			h.markMoved(m.Conn) // recovery: the session lives on elsewhere
		}
		if validCloseCode(m.CloseCode) {
			t.closeLocal(m.CloseCode, string(m.Data))
		}
		return
	}
	mt := TextMessage
	if m.Binary {
		mt = BinaryMessage
	}
	_, _ = t.deliverLocal(mt, m.Data)
}
