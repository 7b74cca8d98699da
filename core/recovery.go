package core

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Why a recovery failed: the reason the session message, Config.Recovery's
// OnRecover hook and Stats.Recovery.Failed report. The set is fixed, so a
// metrics system can label by it.
const (
	// RecoverExpired: the session's window had passed.
	RecoverExpired = "expired"
	// RecoverUnknown: no such session, a malformed or forged token, or no
	// well-formed recover message first.
	RecoverUnknown = "unknown"
	// RecoverTooFarBehind: a stream's history no longer holds the first
	// message the client missed (trimmed by size or age).
	RecoverTooFarBehind = "too_far_behind"
	// RecoverHistoryLost: a stream's epoch changed (the store lost its
	// data: a Redis flush or restart without persistence).
	RecoverHistoryLost = "history_lost"
	// RecoverForbidden: the session belongs to another identity.
	RecoverForbidden = "forbidden"
)

var recoverReasons = [...]string{RecoverExpired, RecoverUnknown, RecoverTooFarBehind, RecoverHistoryLost, RecoverForbidden}

// RecoverReasons returns every reason a recovery can fail with, in a fixed
// order.
func RecoverReasons() []string { return slices.Clone(recoverReasons[:]) }

// CloseSessionMoved closes a connection whose session a recovery took over
// (the client reconnected before the server noticed the old connection
// drop).
const CloseSessionMoved = 4409

// RecoverQuery is the query parameter (value "1") with which a client that
// holds a session asks to recover it; its first message is then the
// recover message.
const RecoverQuery = "rushws_recover"

// RecoveryConfig configures connection state recovery (Config.Recovery).
// With it on, every connection gets a session at connect, announced by the
// session message, its first message; a client that reconnects within
// Window presents it and gets back its connection ID, rooms and metadata
// and every event message it missed, then the route handler runs with
// Conn.Recovered true.
//
// What is kept: event messages (Emit) sent to rooms, to everyone, to
// connections by ID (Hub.ToIDs), and by a connection's own Conn.Emit (its
// own stream), each in a bounded per-stream history. Not kept: raw and
// binary sends (Send, SendBinary, SendJSON), Volatile sends, and
// EmitWithAck requests (acks in flight are not replayed).
//
// Metadata is kept when JSON can encode it and restored as encoding/json
// decodes into any (strings, float64, bool, []any, map[string]any); values
// it cannot encode are left out, and so is the key "user", which the JWT
// middleware sets again on every handshake. A restored value never replaces
// one middleware set on the recovering handshake.
type RecoveryConfig struct {
	// Enabled turns recovery on. Optional. Default false.
	Enabled bool
	// Window is how long after a connection is lost its session can be
	// recovered. After a crash of the instance that held it, the window
	// counts from its last refresh (every quarter of Window). Optional.
	// Default 2m.
	Window time.Duration
	// HistorySize is the most messages each stream (a room, everyone, a
	// connection) keeps. Optional. Default 1000.
	HistorySize int
	// HistoryTTL is how long a message stays in its stream's history.
	// Optional. Default 5m.
	HistoryTTL time.Duration
	// Store keeps histories and sessions. Optional. Default the Broker
	// when it implements RecoveryStore (package redisbroker's does), else
	// a MemoryStore when the hub has no broker; a hub with a broker that
	// is not a store needs one.
	Store RecoveryStore
	// Identity names whom a connection's session belongs to, from what
	// middleware established; another identity cannot take the session
	// (RecoverForbidden), and a session of "" can be taken by anyone holding
	// its token. Optional. Default the subject (GetSubject) of the value
	// under metadata key "user", or of its Claims field (the JWT
	// middleware's *jwt.Token).
	Identity func(c *Conn) string
	// OnRecover runs after every recovery attempt, before the route
	// handler: ok tells whether it succeeded, reason why not (one of the
	// Recover constants). Optional. Default none.
	OnRecover func(c *Conn, ok bool, reason string)
}

// Defaults of RecoveryConfig.
const (
	DefaultRecoveryWindow = 2 * time.Minute
	DefaultHistorySize    = 1000
	DefaultHistoryTTL     = 5 * time.Minute
)

// withDefaults validates r and fills in defaults.
func (r RecoveryConfig) withDefaults() (RecoveryConfig, error) {
	var errs []error
	if r.Window < 0 {
		errs = append(errs, errors.New("rushws: Config.Recovery.Window must not be negative"))
	}
	if r.HistorySize < 0 {
		errs = append(errs, errors.New("rushws: Config.Recovery.HistorySize must not be negative"))
	}
	if r.HistoryTTL < 0 {
		errs = append(errs, errors.New("rushws: Config.Recovery.HistoryTTL must not be negative"))
	}
	if r.Window == 0 {
		r.Window = DefaultRecoveryWindow
	}
	if r.HistorySize == 0 {
		r.HistorySize = DefaultHistorySize
	}
	if r.HistoryTTL == 0 {
		r.HistoryTTL = DefaultHistoryTTL
	}
	if r.Identity == nil {
		r.Identity = subjectOf
	}
	return r, errors.Join(errs...)
}

// subjecter is what JWT claims implement.
type subjecter interface {
	GetSubject() (string, error)
}

// subjectOf is the default Identity: the subject of the claims stored under
// "user" (claims themselves, or a token with a Claims field). Nil claims
// (whose GetSubject panics) name no one.
func subjectOf(c *Conn) (sub string) {
	defer func() {
		if recover() != nil {
			sub = ""
		}
	}()
	v := c.Get("user")
	if s, ok := v.(subjecter); ok {
		sub, _ := s.GetSubject()
		return sub
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return ""
	}
	if f := rv.FieldByName("Claims"); f.IsValid() && f.CanInterface() {
		if s, ok := f.Interface().(subjecter); ok && (f.Kind() != reflect.Interface && f.Kind() != reflect.Pointer || !f.IsNil()) {
			sub, _ := s.GetSubject()
			return sub
		}
	}
	return ""
}

// RecoveryStats counts recoveries (Stats.Recovery).
type RecoveryStats struct {
	// Recovered counts successful recoveries.
	Recovered uint64 `json:"recovered"`
	// Failed counts failed recovery attempts by reason; every reason of
	// RecoverReasons is present.
	Failed map[string]uint64 `json:"failed"`
	// Replayed counts messages replayed to recovered connections.
	Replayed uint64 `json:"replayed"`
	// TakenOver counts live connections closed because a recovery took
	// over their session.
	TakenOver uint64 `json:"takenOver"`
	// Unkept counts sends delivered by this hub without being kept (and
	// without "pos"), because the store could not append them (Redis
	// unreachable): recipients that lose their connection cannot get them
	// back.
	Unkept uint64 `json:"unkept"`
	// StoreErrors counts failed calls to the recovery store (sessions and
	// histories, outside Append, which Unkept counts).
	StoreErrors uint64 `json:"storeErrors"`
}

// recovery is a hub's recovery state; nil when recovery is off.
type recovery struct {
	h     *Hub
	cfg   RecoveryConfig
	store RecoveryStore

	recovered, replayed, takenOver, unkept, storeErrors atomic.Uint64
	failed                                              [len(recoverReasons)]atomic.Uint64

	// mu protects the following.
	mu      sync.Mutex
	live    map[*Conn]struct{} // sessions refreshed while their connection lives
	byHash  map[string]*Conn   // the same, by token hash
	dirty   map[*Conn]struct{} // sessions to save
	running bool               // the session goroutine runs
	wake    chan struct{}
}

// startRecovery sets up recovery when Config.Recovery asks for it. NewHub
// calls it after startBroker.
func (h *Hub) startRecovery() error {
	cfg := h.cfg.Recovery
	if !cfg.Enabled {
		return nil
	}
	store := cfg.Store
	if store == nil {
		if h.cfg.Broker == nil {
			store = NewMemoryStore()
		} else if s, ok := h.cfg.Broker.(RecoveryStore); ok {
			store = s
		} else {
			return errors.New("rushws: Config.Recovery needs a Store shared by the hubs: the Broker does not implement RecoveryStore")
		}
	}
	r := &recovery{h: h, cfg: cfg, store: store, live: make(map[*Conn]struct{}), byHash: make(map[string]*Conn), dirty: make(map[*Conn]struct{}), wake: make(chan struct{}, 1)}
	opts := HistoryOptions{Size: cfg.HistorySize, TTL: cfg.HistoryTTL, SessionTTL: cfg.Window}
	if err := store.StartRecovery(h.id, opts, h.deliverKept); err != nil {
		return fmt.Errorf("rushws: starting the recovery store: %w", err)
	}
	h.rec = r
	return nil
}

// Recovered reports whether the connection recovered a session: its ID,
// rooms and metadata are those of the connection it continues, and the
// messages it missed were sent before its route handler ran. A route
// handler uses it to skip joins and greetings the client has already had.
func (c *Conn) Recovered() bool { return c.sess != nil && c.sess.recovered }

// RecoveryFailure returns why the connection's recovery attempt failed (one
// of the Recover constants), or "" when it recovered or did not try.
func (c *Conn) RecoveryFailure() string {
	if c.sess == nil {
		return ""
	}
	return c.sess.reason
}

// Volatile returns the target with its event messages not kept for
// recovery: they carry no "pos" and are not replayed, as suits frequent,
// short-lived updates (cursor positions, typing indicators).
func (t Target) Volatile() Target {
	t.volatile = true
	return t
}

// keptMessages splits the event envelope b, sent to t, into messages with
// one target each: everyone, the rooms, and each connection by ID (whose
// stream is its own, named "conn" on the wire).
func (t Target) keptMessages(b []byte) []KeptMessage {
	h := t.hub
	base := KeptMessage{Hub: h.id, Except: t.exceptIDs(), ExceptRooms: slices.Clone(t.exceptRooms), Data: b}
	if t.all {
		base.Streams = []string{StreamAll}
		return []KeptMessage{base}
	}
	var out []KeptMessage
	if len(t.rooms) > 0 {
		m := base
		for _, r := range t.rooms {
			if s := RoomStream(r); !slices.Contains(m.Streams, s) {
				m.Streams = append(m.Streams, s)
			}
		}
		out = append(out, m)
	}
	seen := make(map[string]bool, len(t.conns))
	for _, id := range t.conns {
		if HubOf(id) == "" || seen[id] {
			continue // not a connection ID
		}
		seen[id] = true
		m := base
		m.Streams = []string{ConnStream(id)}
		if len(t.rooms) > 0 { // a member of a targeted room has it already
			m.ExceptRooms = append(slices.Clone(t.exceptRooms), t.rooms...)
		}
		out = append(out, m)
	}
	return out
}

// emitKept sends an event envelope through the recovery store: it is kept
// in the targets' histories and delivered, with its positions, by every
// hub, this one included, when the store hands it back. It returns how many
// connections of this hub the target names now.
func (t Target) emitKept(b []byte) (int, error) {
	h := t.hub
	if h.isClosing() {
		return 0, ErrHubClosed
	}
	if err := t.validate(); err != nil {
		return 0, err
	}
	n := 0
	t.forEach(func(*Conn) { n++ })
	for _, m := range t.keptMessages(b) {
		if err := h.rec.store.Append(context.Background(), m); err != nil {
			m.Kept = false
			h.deliverKept(m) // the store did nothing: this hub's members still get it
		}
	}
	return n, nil
}

// deliverKept is the hub's side of RecoveryStore.StartRecovery: it queues a
// message the store handed back for every member of its target on this
// hub. A recovering member buffers it until its replay has been queued.
func (h *Hub) deliverKept(m KeptMessage) {
	if h.isClosing() {
		return
	}
	if !m.Kept {
		if m.Hub != h.id {
			return
		}
		h.rec.unkept.Add(1)
	}
	t := Target{hub: h, remote: true, except: m.Except, exceptRooms: m.ExceptRooms}
	for _, s := range m.Streams {
		switch {
		case s == StreamAll:
			t.all = true
		case strings.HasPrefix(s, roomStreamPrefix):
			t.rooms = append(t.rooms, s[len(roomStreamPrefix):])
		case strings.HasPrefix(s, connStreamPrefix):
			t.conns = append(t.conns, s[len(connStreamPrefix):])
		}
	}
	if !t.all && len(t.rooms) == 0 && len(t.conns) == 0 {
		return
	}
	o, err := newShared(TextMessage, m.Data)
	if err != nil {
		return
	}
	list := flushPool.Get().(*[]*Conn)
	t.forEach(func(c *Conn) {
		if s := c.sess; s != nil && s.hold(m) {
			return
		}
		if start, _ := c.push(o, true); start {
			*list = append(*list, c)
		}
	})
	startWriters(list)
}

// startWriters starts the writers a delivery claimed, as deliverLocal does.
func startWriters(list *[]*Conn) {
	if len(*list) >= flushMin {
		go flushAll(list)
		return
	}
	for i, c := range *list {
		go c.writeLoop()
		(*list)[i] = nil
	}
	*list = (*list)[:0]
	flushPool.Put(list)
}

// hold buffers m while the session's connection is recovering, and reports
// whether it did.
func (s *connSession) hold(m KeptMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.buffering {
		return false
	}
	s.buffered = append(s.buffered, m)
	return true
}

// recoveryPlan is what prepareSession found for a recovery, for
// attachSession.
type recoveryPlan struct {
	rooms []string
	from  map[string]Position  // by server stream name
	since map[string]time.Time // streams with no recorded position: replay what was appended since
}

// prepareSession runs at the upgrade, before the connection is registered:
// it gives the connection its session and, when the client asks to recover
// one, reads the recover message, takes the session from the store and
// restores the connection's ID and metadata. It returns the plan for
// attachSession, nil when there is nothing to restore.
func (h *Hub) prepareSession(c *Conn, r *http.Request) *recoveryPlan {
	rec := h.rec
	s := &connSession{identity: rec.cfg.Identity(c)}
	c.sess = s
	c.mu.Lock()
	open := c.state == stateOpen
	c.deferWrite = open // nothing leaves before the session message
	c.mu.Unlock()
	if !open || r.URL.Query().Get(RecoverQuery) != "1" {
		return nil // a connection middleware closed before next gets no session
	}
	mt, data, err := readFirstMessage(c, h.cfg.HandshakeTimeout)
	if err != nil {
		s.reason = RecoverUnknown
		return nil
	}
	req, isRecover, ok := parseRecover(data)
	if mt != TextMessage || !isRecover {
		s.first = &heldMessage{mt: mt, data: data} // handled as usual once the route handler has run
		s.reason = RecoverUnknown
		return nil
	}
	if !ok {
		s.reason = RecoverUnknown
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.HandshakeTimeout)
	defer cancel()
	prev, err := rec.store.TakeSession(ctx, hashToken(req.token), s.identity)
	switch {
	case errors.Is(err, ErrSessionForbidden):
		s.reason = RecoverForbidden
		return nil
	case errors.Is(err, ErrSessionNotFound):
		// The store may have lost it (a flush) while this hub still holds
		// the live connection: its state then serves, and the streams'
		// epochs tell whether the history survived.
		old := rec.liveSession(hashToken(req.token))
		if old == nil || old.sess.moved.Load() || (old.sess.identity != "" && old.sess.identity != s.identity) {
			s.reason = RecoverUnknown
			return nil
		}
		prev = rec.record(old, true)
	case err != nil:
		rec.storeErrors.Add(1)
		h.log.Warn("rushws: recovery: session store failed", "conn", c.id, "err", err)
		s.reason = RecoverUnknown
		return nil
	}
	if HubOf(prev.ConnID) == "" {
		s.reason = RecoverUnknown
		return nil
	}
	if old := h.Conn(prev.ConnID); old != nil && old.sess != nil && old.sess.tokenHash == prev.TokenHash {
		// Still live here: its state now is fresher than the last save.
		rec.positionRooms(ctx, old)
		live := rec.record(old, true)
		prev.Rooms, prev.Positions, prev.Meta = live.Rooms, live.Positions, live.Meta
	}
	rec.takeOver(prev) // the old connection ends whether or not this one recovers
	if time.Now().After(prev.Deadline) {
		s.reason = RecoverExpired
		return nil
	}
	plan := &recoveryPlan{from: make(map[string]Position), since: make(map[string]time.Time)}
	for _, room := range prev.Rooms {
		if ValidRoomName(room) && !slices.Contains(plan.rooms, room) {
			plan.rooms = append(plan.rooms, room)
		}
	}
	streams := []string{ConnStream(prev.ConnID), StreamAll}
	for _, room := range plan.rooms {
		streams = append(streams, RoomStream(room))
	}
	states, err := rec.store.Streams(ctx, streams)
	if err != nil {
		rec.storeErrors.Add(1)
		h.log.Warn("rushws: recovery: history store failed", "conn", c.id, "err", err)
		s.reason = RecoverHistoryLost
		return nil
	}
	for _, name := range streams {
		state := states[name]
		from, reason, unknown := replayFrom(name, prev.Positions[name], req.positions[WireStream(name)], req.positions, state)
		if reason != "" {
			s.reason = reason
			return nil
		}
		plan.from[name] = from
		if unknown {
			plan.since[name] = prev.Since
		}
	}
	s.recovered = true
	c.id = prev.ConnID
	restoreMeta(c, prev.Meta)
	return plan
}

// replayFrom decides where a stream's replay starts: after the later of the
// position the session recorded (saved, at connect or join) and the one the
// client presents (client, present in wire). It returns the reason to fail
// when the history cannot serve it, and unknown when neither is known (a
// room joined just before the drop, before its position was recorded): the
// replay then starts with what the history holds, filtered by time.
func replayFrom(name, saved string, client Position, wire map[string]Position, state StreamState) (from Position, reason string, unknown bool) {
	_, hasClient := wire[WireStream(name)]
	from = Position{Epoch: state.Top.Epoch}
	known := false
	if saved != "" {
		p, err := ParsePosition(saved)
		if err != nil {
			return from, RecoverUnknown, false
		}
		if p.Epoch != state.Top.Epoch {
			return from, RecoverHistoryLost, false
		}
		from.Offset, known = p.Offset, true
	}
	if hasClient {
		if client.Epoch != state.Top.Epoch {
			return from, RecoverHistoryLost, false
		}
		from.Offset, known = max(from.Offset, client.Offset), true
	}
	switch {
	case !known:
		return from, "", true
	case from.Offset > state.Top.Offset:
		return from, RecoverHistoryLost, false // the stream restarted its offsets
	case from.Offset < state.Top.Offset && (state.Oldest == 0 || state.Oldest > from.Offset+1):
		return from, RecoverTooFarBehind, false
	}
	return from, "", false
}

// takeOver ends the connection that held a session a recovery took: here,
// or through the broker on the hub that holds it.
func (rec *recovery) takeOver(prev SessionRecord) {
	h := rec.h
	if old := h.Conn(prev.ConnID); old != nil && (old.sess == nil || old.sess.tokenHash == prev.TokenHash) {
		if old.sess != nil {
			old.sess.moved.Store(true)
		}
		h.mu.Lock()
		if h.conns[prev.ConnID] == old {
			delete(h.conns, prev.ConnID)
		}
		h.mu.Unlock()
		old.closeGraceful(CloseSessionMoved, "session recovered elsewhere")
		rec.takenOver.Add(1)
		return
	}
	if prev.Live && prev.Hub != h.id && h.broker != nil {
		// All with Conn: every hub looks the connection up by ID (after a
		// recovery its ID no longer names its hub); see deliverRemote.
		_ = h.broker.b.Publish(context.Background(), BrokerMessage{
			Hub: h.id, All: true, Conn: prev.ConnID, CloseCode: CloseSessionMoved, Data: []byte("session recovered elsewhere"),
		})
	}
}

// liveSession returns the live connection of this hub whose session token
// has the given hash, or nil.
func (rec *recovery) liveSession(hash string) *Conn {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.byHash[hash]
}

// markMoved records that a recovery elsewhere took the session of the
// connection with the given ID, which is about to be closed.
func (h *Hub) markMoved(id string) {
	if c := h.Conn(id); c != nil && c.sess != nil {
		c.sess.moved.Store(true)
		if h.rec != nil {
			h.rec.takenOver.Add(1)
		}
	}
}

// restoreMeta sets the saved metadata values that middleware has not set
// on this handshake.
func restoreMeta(c *Conn, meta map[string]json.RawMessage) {
	if len(meta) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, raw := range meta {
		if _, set := c.bag.get(k); set {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		c.bag.set(k, v)
	}
}

// sessionMessage is the data of the session event.
type sessionMessage struct {
	ID        string            `json:"id"`
	Token     string            `json:"token"`
	Recovered bool              `json:"recovered"`
	Reason    string            `json:"reason,omitempty"`
	Missed    int               `json:"missed"`
	Positions map[string]string `json:"positions"`
}

// attachSession runs once the connection is registered, before the route
// handler: it rejoins a recovered connection's rooms and reads what it
// missed, saves the session, and queues the session message and the
// replay ahead of anything else, then what arrived meanwhile.
func (h *Hub) attachSession(c *Conn, plan *recoveryPlan, attempted bool) {
	rec := h.rec
	s := c.sess
	c.mu.Lock()
	open := c.state == stateOpen
	c.mu.Unlock()
	if !open {
		c.endDefer()
		return
	}
	token, hash := newToken()
	s.tokenHash = hash
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.HandshakeTimeout)
	defer cancel()
	positions := make(map[string]string) // by wire name
	s.positions = make(map[string]string)
	upTo := make(map[string]Position)
	var replay [][]byte
	if plan != nil {
		s.mu.Lock()
		s.buffering = true
		s.mu.Unlock()
		for _, room := range plan.rooms {
			_ = c.Join(room) // a room over today's limits is left out
		}
		var lists [][]HistoryEntry
		for name, from := range plan.from {
			if strings.HasPrefix(name, roomStreamPrefix) && !c.In(name[len(roomStreamPrefix):]) {
				continue
			}
			entries, state, err := rec.store.History(ctx, name, from.Offset, rec.cfg.HistorySize)
			if err != nil {
				rec.storeErrors.Add(1)
				h.log.Warn("rushws: recovery: reading history failed", "conn", c.id, "err", err)
				state.Top = from
			}
			if since, ok := plan.since[name]; ok {
				entries = slices.DeleteFunc(entries, func(e HistoryEntry) bool { return e.Time.Before(since) })
			}
			upTo[name] = state.Top
			positions[WireStream(name)] = state.Top.String()
			s.positions[name] = state.Top.String()
			lists = append(lists, skipExcluded(entries, c.id, plan.rooms))
		}
		replay = mergeHistories(lists)
	} else {
		streams := []string{ConnStream(c.id), StreamAll}
		states, err := rec.store.Streams(ctx, streams)
		if err != nil {
			rec.storeErrors.Add(1)
			h.log.Warn("rushws: recovery: history store failed; the session has no positions", "conn", c.id, "err", err)
		}
		for _, name := range streams {
			if st, ok := states[name]; ok {
				positions[WireStream(name)] = st.Top.String()
				s.positions[name] = st.Top.String()
			}
		}
	}
	if err := rec.store.SaveSession(ctx, rec.record(c, true), true); err != nil {
		rec.storeErrors.Add(1)
		h.log.Warn("rushws: recovery: saving the session failed", "conn", c.id, "err", err)
	}
	msg := sessionMessage{ID: c.id, Token: token, Recovered: plan != nil, Reason: s.reason, Missed: len(replay), Positions: positions}
	b, _ := encodeOwnEvent("session", msg)
	c.queueFirst(append([][]byte{b}, replay...))
	if plan != nil {
		c.flushHeld(upTo)
		rec.recovered.Add(1)
		rec.replayed.Add(uint64(len(replay)))
	} else if s.reason != "" {
		for i, r := range recoverReasons {
			if r == s.reason {
				rec.failed[i].Add(1)
			}
		}
	}
	c.endDefer()
	rec.track(c)
	if attempted && rec.cfg.OnRecover != nil {
		func() {
			defer func() {
				if p := recover(); p != nil {
					_ = h.recovered(c, p)
				}
			}()
			rec.cfg.OnRecover(c, plan != nil, s.reason)
		}()
	}
}

// skipExcluded drops the entries whose exclusions name the connection or
// one of its rooms.
func skipExcluded(entries []HistoryEntry, id string, rooms []string) []HistoryEntry {
	out := entries[:0:0]
	for _, e := range entries {
		if slices.Contains(e.Except, id) || slices.ContainsFunc(e.ExceptRooms, func(r string) bool { return slices.Contains(rooms, r) }) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// mergeHistories merges the histories of several streams into one replay
// in append order (HistoryEntry.Seq, then Time), each message once: one
// kept in several streams (a send to several rooms) is replayed once.
func mergeHistories(lists [][]HistoryEntry) [][]byte {
	var all []HistoryEntry
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b HistoryEntry) int {
		if a.Seq != b.Seq {
			return cmp.Compare(a.Seq, b.Seq)
		}
		return a.Time.Compare(b.Time)
	})
	out := make([][]byte, 0, len(all))
	seen := make(map[string]bool)
	for _, e := range all {
		if !seen[string(e.Data)] {
			seen[string(e.Data)] = true
			out = append(out, e.Data)
		}
	}
	return out
}

// queueFirst puts text messages at the head of the send queue, ahead of
// what middleware and deliveries queued meanwhile.
func (c *Conn) queueFirst(msgs [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	old := c.queue
	c.queue = nil
	for _, m := range msgs {
		o := dataOut(opText, m)
		c.appendLocked(o)
		c.queueBytes += len(o.frame)
		c.queued++
	}
	for _, o := range old {
		c.appendLocked(o)
	}
	recycleQueue(old)
}

// flushHeld queues the kept messages that arrived while the connection was
// recovering, minus those the replay held (at or below upTo, by stream),
// and ends the buffering.
func (c *Conn) flushHeld(upTo map[string]Position) {
	s := c.sess
	for {
		s.mu.Lock()
		held := s.buffered
		s.buffered = nil
		if len(held) == 0 {
			s.buffering = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, m := range held {
			if m.Kept && replayed(m.Data, c.id, upTo) {
				continue
			}
			_ = c.enqueue(dataOut(opText, m.Data), true)
		}
	}
}

// replayed reports whether a kept message was part of the replay: one of
// its positions is at or below where the replay read its stream.
func replayed(data []byte, id string, upTo map[string]Position) bool {
	pos, ok := parsePos(data)
	if !ok {
		return false
	}
	for wire, p := range pos {
		name := wire
		if wire == wireConnStream {
			name = ConnStream(id)
		}
		if top, ok := upTo[name]; ok && top.Epoch == p.Epoch && p.Offset <= top.Offset {
			return true
		}
	}
	return false
}

// record builds the session record of a connection.
func (rec *recovery) record(c *Conn, live bool) SessionRecord {
	s := c.sess
	deadline := time.Now().Add(rec.cfg.Window)
	r := SessionRecord{TokenHash: s.tokenHash, Identity: s.identity, Deadline: deadline, ConnID: c.id, Hub: rec.h.id, Live: live, Rooms: c.Rooms(), Since: c.ConnectedAt()}
	s.mu.Lock()
	r.Positions = make(map[string]string, len(s.positions))
	for k, v := range s.positions {
		if !strings.HasPrefix(k, roomStreamPrefix) || slices.Contains(r.Rooms, k[len(roomStreamPrefix):]) {
			r.Positions[k] = v
		}
	}
	s.mu.Unlock()
	c.mu.Lock()
	bag := make(map[string]any, len(c.bag))
	for _, e := range c.bag {
		bag[e.key] = e.value
	}
	c.mu.Unlock()
	for k, v := range bag {
		if k == "user" {
			continue // credentials: the middleware sets them again
		}
		if b, ok := encodeMeta(v); ok {
			if r.Meta == nil {
				r.Meta = make(map[string]json.RawMessage)
			}
			r.Meta[k] = b
		}
	}
	return r
}

// encodeMeta encodes a metadata value, reporting false for one JSON cannot
// encode (or whose MarshalJSON panics).
func encodeMeta(v any) (b json.RawMessage, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	b, err := json.Marshal(v)
	return b, err == nil
}

// track starts refreshing a connection's session.
func (rec *recovery) track(c *Conn) {
	rec.mu.Lock()
	rec.live[c] = struct{}{}
	rec.byHash[c.sess.tokenHash] = c
	start := !rec.running
	rec.running = true
	rec.mu.Unlock()
	if start {
		go rec.run()
	}
}

// changed marks a connection's session for saving: its rooms changed.
// With a MemoryStore, the positions of rooms it joined are recorded at
// once; other stores are asked by the session goroutine, shortly after.
func (rec *recovery) changed(c *Conn) {
	if c.sess == nil || c.sess.tokenHash == "" {
		return
	}
	if _, ok := rec.store.(*MemoryStore); ok {
		rec.positionRooms(context.Background(), c)
	}
	rec.mu.Lock()
	if _, ok := rec.live[c]; ok {
		rec.dirty[c] = struct{}{}
	}
	rec.mu.Unlock()
	select {
	case rec.wake <- struct{}{}:
	default:
	}
}

// released saves a closed connection's session for its window, unless a
// recovery took it over. It runs on the connection's read goroutine once
// the connection has ended.
func (rec *recovery) released(c *Conn) {
	rec.mu.Lock()
	_, tracked := rec.live[c]
	delete(rec.live, c)
	if rec.byHash[c.sess.tokenHash] == c {
		delete(rec.byHash, c.sess.tokenHash)
	}
	delete(rec.dirty, c)
	rec.mu.Unlock()
	select {
	case rec.wake <- struct{}{}:
	default:
	}
	if !tracked {
		return
	}
	s := c.sess
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.ended = true
	if s.moved.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(rec.h.cfg.HandshakeTimeout, 2*time.Second))
	defer cancel()
	if err := rec.store.SaveSession(ctx, rec.record(c, false), false); err != nil {
		rec.storeErrors.Add(1)
		rec.h.log.Warn("rushws: recovery: saving the session failed", "conn", c.id, "err", err)
	}
}

// run is the hub's session goroutine: it saves changed sessions (with the
// positions of rooms joined since) and pushes back the deadline of live
// ones every quarter of the window. It exits when no session is live.
func (rec *recovery) run() {
	t := time.NewTicker(rec.cfg.Window / 4)
	defer t.Stop()
	for {
		touch := false
		select {
		case <-rec.wake:
		case <-t.C:
			touch = true
		}
		rec.mu.Lock()
		if len(rec.live) == 0 {
			rec.running = false
			clear(rec.dirty)
			rec.mu.Unlock()
			return
		}
		dirty := make([]*Conn, 0, len(rec.dirty))
		for c := range rec.dirty {
			dirty = append(dirty, c)
		}
		clear(rec.dirty)
		var hashes []string
		if touch {
			for c := range rec.live {
				hashes = append(hashes, c.sess.tokenHash)
			}
		}
		rec.mu.Unlock()
		rec.save(dirty)
		if len(hashes) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), rec.cfg.Window/4)
			if err := rec.store.TouchSessions(ctx, hashes, time.Now().Add(rec.cfg.Window)); err != nil {
				rec.storeErrors.Add(1)
				rec.h.log.Warn("rushws: recovery: refreshing sessions failed", "sessions", len(hashes), "err", err)
			}
			cancel()
		}
	}
}

// save stores the sessions of connections whose rooms changed, recording
// the current position of each room joined since the last save.
func (rec *recovery) save(conns []*Conn) {
	if len(conns) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(rec.cfg.Window/4, time.Second))
	defer cancel()
	for _, c := range conns {
		s := c.sess
		s.saveMu.Lock()
		if !s.ended && !s.moved.Load() && rec.positionRooms(ctx, c) {
			if err := rec.store.SaveSession(ctx, rec.record(c, true), false); err != nil {
				rec.storeErrors.Add(1)
			}
		}
		s.saveMu.Unlock()
	}
}

// positionRooms records the current position of each room the connection
// joined since its positions were last recorded. It reports false when the
// store failed.
func (rec *recovery) positionRooms(ctx context.Context, c *Conn) bool {
	s := c.sess
	var missing []string
	s.mu.Lock()
	for _, room := range c.Rooms() {
		if _, ok := s.positions[RoomStream(room)]; !ok {
			missing = append(missing, RoomStream(room))
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return true
	}
	states, err := rec.store.Streams(ctx, missing)
	if err != nil {
		rec.storeErrors.Add(1)
		return false
	}
	s.mu.Lock()
	for name, st := range states {
		if _, ok := s.positions[name]; !ok {
			s.positions[name] = st.Top.String()
		}
	}
	s.mu.Unlock()
	return true
}

// recoveryStats returns the recovery counters, nil when recovery is off.
func (h *Hub) recoveryStats() *RecoveryStats {
	rec := h.rec
	if rec == nil {
		return nil
	}
	st := &RecoveryStats{
		Recovered:   rec.recovered.Load(),
		Failed:      make(map[string]uint64, len(recoverReasons)),
		Replayed:    rec.replayed.Load(),
		TakenOver:   rec.takenOver.Load(),
		Unkept:      rec.unkept.Load(),
		StoreErrors: rec.storeErrors.Load(),
	}
	for i, r := range recoverReasons {
		st.Failed[r] = rec.failed[i].Load()
	}
	return st
}

// endDefer lets the connection's writer start again after prepareSession
// held it back.
func (c *Conn) endDefer() {
	c.mu.Lock()
	c.deferWrite = false
	c.mu.Unlock()
}
