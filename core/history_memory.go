package core

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// MemoryStore is a RecoveryStore in the process's memory, for a hub that
// runs alone: a hub with recovery on and no broker makes one. Its histories
// and sessions do not survive the process; a new MemoryStore has a new
// epoch, so positions issued by an earlier process fail as history_lost.
//
// Messages are delivered in append order: one goroutine at a time delivers
// what was appended, the others leave theirs to it, so a send made while a
// delivery runs (from an ack callback, say) never waits for itself. All
// methods are safe for concurrent use.
type MemoryStore struct {
	epoch string

	mu       sync.Mutex
	opts     HistoryOptions
	deliver  []func(KeptMessage)
	streams  map[string]*memStream
	sessions map[string]memSession
	swept    time.Time
	seq      uint64 // appends, for HistoryEntry.Seq

	// pending are appended messages not yet delivered, in append order;
	// delivering is set while a goroutine delivers them. Guarded by mu.
	pending    []KeptMessage
	delivering bool
}

type memStream struct {
	top     uint64
	entries []HistoryEntry // oldest first, at most opts.Size
	used    time.Time      // last append, for forgetting idle streams
}

type memSession struct {
	rec  SessionRecord
	keep time.Time // removed after this
}

// NewMemoryStore returns an empty in-memory store with a fresh epoch.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{epoch: newEpoch(), streams: make(map[string]*memStream), sessions: make(map[string]memSession)}
}

// newEpoch returns a random epoch: 64 bits, base64url.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// StartRecovery implements RecoveryStore. Several hubs of one process may
// share a MemoryStore.
func (s *MemoryStore) StartRecovery(hubID string, opts HistoryOptions, deliver func(KeptMessage)) error {
	if deliver == nil {
		return errors.New("rushws: MemoryStore.StartRecovery needs a deliver function")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Size == 0 || opts.Size > s.opts.Size {
		s.opts.Size = opts.Size
	}
	s.opts.TTL = max(s.opts.TTL, opts.TTL)
	s.opts.SessionTTL = max(s.opts.SessionTTL, opts.SessionTTL)
	s.deliver = append(s.deliver, deliver)
	return nil
}

// Append implements RecoveryStore: it appends, and delivers before it
// returns unless another goroutine is delivering, which then delivers m
// after what was appended before it.
func (s *MemoryStore) Append(_ context.Context, m KeptMessage) error {
	s.mu.Lock()
	now := time.Now()
	pos := make([]Position, len(m.Streams))
	for i, name := range m.Streams {
		st := s.streamLocked(name, now)
		st.top++
		pos[i] = Position{Epoch: s.epoch, Offset: st.top}
	}
	m.Data = appendPos(m.Data, m.Streams, pos)
	m.Kept = true
	s.seq++
	for i, name := range m.Streams {
		st := s.streams[name]
		if len(st.entries) >= s.opts.Size {
			n := len(st.entries) - s.opts.Size + 1
			clear(st.entries[:n])
			st.entries = st.entries[n:]
		}
		st.entries = append(st.entries, HistoryEntry{Offset: pos[i].Offset, Seq: s.seq, Time: now, Except: m.Except, ExceptRooms: m.ExceptRooms, Data: m.Data})
	}
	s.sweepLocked(now)
	s.pending = append(s.pending, m)
	if s.delivering {
		s.mu.Unlock()
		return nil
	}
	s.delivering = true
	for len(s.pending) > 0 {
		next := s.pending[0]
		s.pending[0] = KeptMessage{}
		s.pending = s.pending[1:]
		deliver := s.deliver
		s.mu.Unlock()
		for _, d := range deliver {
			d(next)
		}
		s.mu.Lock()
	}
	s.pending = nil
	s.delivering = false
	s.mu.Unlock()
	return nil
}

// streamLocked returns the named stream, creating it. s.mu is held.
func (s *MemoryStore) streamLocked(name string, now time.Time) *memStream {
	st := s.streams[name]
	if st == nil {
		st = &memStream{}
		s.streams[name] = st
	}
	st.used = now
	return st
}

// trimLocked drops the messages past the age bound. s.mu is held.
func (s *MemoryStore) trimLocked(st *memStream, now time.Time) {
	i := 0
	for i < len(st.entries) && now.Sub(st.entries[i].Time) > s.opts.TTL {
		i++
	}
	if i > 0 {
		clear(st.entries[:i])
		st.entries = st.entries[i:]
	}
}

// memStreamIdle is how long an empty stream keeps its offset after its
// last append, as redisbroker's HistoryMetaTTL.
const memStreamIdle = 24 * time.Hour

// sweepLocked, at most once a second, trims every stream, forgets streams
// idle for a day (their positions then fail as history_lost, as an expired
// Redis key would) and sessions past their keep time. s.mu is held.
func (s *MemoryStore) sweepLocked(now time.Time) {
	if now.Sub(s.swept) < time.Second {
		return
	}
	s.swept = now
	for name, st := range s.streams {
		s.trimLocked(st, now)
		if len(st.entries) == 0 && now.Sub(st.used) > memStreamIdle {
			delete(s.streams, name)
		}
	}
	for k, ms := range s.sessions {
		if now.After(ms.keep) {
			delete(s.sessions, k)
		}
	}
}

// Streams implements RecoveryStore.
func (s *MemoryStore) Streams(_ context.Context, names []string) (map[string]StreamState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := make(map[string]StreamState, len(names))
	for _, name := range names {
		state := StreamState{Top: Position{Epoch: s.epoch}}
		if st := s.streams[name]; st != nil { // a stream that never got a message costs nothing
			s.trimLocked(st, now)
			state.Top.Offset = st.top
			if len(st.entries) > 0 {
				state.Oldest = st.entries[0].Offset
			}
		}
		out[name] = state
	}
	return out, nil
}

// History implements RecoveryStore.
func (s *MemoryStore) History(_ context.Context, name string, after uint64, limit int) ([]HistoryEntry, StreamState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	st := s.streams[name]
	if st == nil {
		return nil, StreamState{Top: Position{Epoch: s.epoch}}, nil
	}
	s.trimLocked(st, now)
	state := StreamState{Top: Position{Epoch: s.epoch, Offset: st.top}}
	if len(st.entries) > 0 {
		state.Oldest = st.entries[0].Offset
	}
	i := len(st.entries)
	for i > 0 && st.entries[i-1].Offset > after {
		i--
	}
	list := st.entries[i:]
	if limit > 0 && len(list) > limit {
		list = list[len(list)-limit:]
	}
	return append([]HistoryEntry(nil), list...), state, nil
}

// SaveSession implements RecoveryStore.
func (s *MemoryStore) SaveSession(_ context.Context, rec SessionRecord, create bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[rec.TokenHash]; !ok && !create {
		return nil
	}
	s.sessions[rec.TokenHash] = memSession{rec: cloneRecord(rec), keep: rec.Deadline.Add(s.opts.SessionTTL)}
	s.sweepLocked(time.Now())
	return nil
}

// TouchSessions implements RecoveryStore.
func (s *MemoryStore) TouchSessions(_ context.Context, hashes []string, deadline time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hashes {
		if ms, ok := s.sessions[h]; ok {
			ms.rec.Deadline = deadline
			ms.keep = deadline.Add(s.opts.SessionTTL)
			s.sessions[h] = ms
		}
	}
	return nil
}

// TakeSession implements RecoveryStore.
func (s *MemoryStore) TakeSession(_ context.Context, hash, identity string) (SessionRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, ok := s.sessions[hash]
	if !ok || time.Now().After(ms.keep) {
		delete(s.sessions, hash)
		return SessionRecord{}, ErrSessionNotFound
	}
	if ms.rec.Identity != "" && ms.rec.Identity != identity {
		return SessionRecord{}, ErrSessionForbidden
	}
	delete(s.sessions, hash)
	return ms.rec, nil
}

// cloneRecord copies a record's maps and slices, so a stored record shares
// nothing with the caller's.
func cloneRecord(r SessionRecord) SessionRecord {
	r.Rooms = append([]string(nil), r.Rooms...)
	if r.Positions != nil {
		p := make(map[string]string, len(r.Positions))
		for k, v := range r.Positions {
			p[k] = v
		}
		r.Positions = p
	}
	if r.Meta != nil {
		m := make(map[string]json.RawMessage, len(r.Meta))
		for k, v := range r.Meta {
			m[k] = append(json.RawMessage(nil), v...)
		}
		r.Meta = m
	}
	return r
}
