package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rushws/rushws/core"
)

// soakServer is one hub on one loopback listener, with the bookkeeping the
// checks need: a sequence number per room (taken under the room's lock
// together with joins, leaves and broadcasts, so a join or leave reply names
// exactly the last message the connection was or was not sent), a count of
// direct sends per connection, and a tally of close codes.
type soakServer struct {
	index int
	hub   *core.Hub
	srv   *http.Server
	ln    net.Listener
	addr  string

	roomsMu sync.Mutex
	rooms   map[string]*roomSeq

	conns sync.Map // connection ID -> *connState

	closeMu sync.Mutex
	closes  map[int]uint64 // close code -> count

	broadcasts atomic.Uint64 // room messages sent by this hub
	directs    atomic.Uint64 // direct messages queued
	bcastErrs  atomic.Uint64 // broadcasts that failed (hub closing)
}

type roomSeq struct {
	mu  sync.Mutex
	seq uint64
}

type connState struct {
	mu     sync.Mutex
	c      *core.Conn
	direct uint64
	closed bool
}

// roomMsg is the payload of a room broadcast: room, origin hub, sequence
// number, padding and the send time (for latency).
type roomMsg struct {
	R string `json:"r"`
	H int    `json:"h"`
	S uint64 `json:"s"`
	T int64  `json:"t,omitempty"`
	P string `json:"p,omitempty"`
}

// byeReply answers "bye": the direct messages sent and, per room left, the
// last sequence number sent to the connection.
type byeReply struct {
	Direct uint64            `json:"direct"`
	Rooms  map[string]uint64 `json:"rooms"`
}

func newSoakServer(index int, cfg core.Config) (*soakServer, error) {
	s := &soakServer{index: index, rooms: make(map[string]*roomSeq), closes: make(map[int]uint64)}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logSink{}, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	hub, err := core.NewHub(cfg)
	if err != nil {
		return nil, err
	}
	s.hub = hub
	mux := http.NewServeMux()
	mux.Handle("/ws", hub.Handler(s.route))
	mux.Handle("/stats", core.StatsHandler(hub))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// logSink counts error lines the hub logs (they fail the run) and prints
// them, cut, so a run shows why.
type logSink struct{}

var hubErrors atomic.Uint64

func (logSink) Write(p []byte) (int, error) {
	hubErrors.Add(1)
	if hubErrors.Load() <= 20 {
		fmt.Printf("hub log: %.300s\n", strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (s *soakServer) room(name string) *roomSeq {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	r := s.rooms[name]
	if r == nil {
		r = &roomSeq{}
		s.rooms[name] = r
	}
	return r
}

// broadcast sends the next numbered message to the room, from this hub.
func (s *soakServer) broadcast(room string, pad string) {
	r := s.room(room)
	r.mu.Lock()
	r.seq++
	_, err := s.hub.To(room).Emit("m", roomMsg{R: room, H: s.index, S: r.seq, T: time.Now().UnixNano(), P: pad})
	if err != nil {
		r.seq-- // nobody was sent it
		s.bcastErrs.Add(1)
	} else {
		s.broadcasts.Add(1)
	}
	r.mu.Unlock()
}

// sendDirect sends the next numbered direct message to one connection.
func (s *soakServer) sendDirect(id string) {
	v, ok := s.conns.Load(id)
	if !ok {
		return
	}
	st := v.(*connState)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	st.direct++
	if err := st.c.Emit("d", st.direct); err != nil {
		st.direct--
		return
	}
	s.directs.Add(1)
}

func (s *soakServer) recordClose(code int) {
	s.closeMu.Lock()
	s.closes[code]++
	s.closeMu.Unlock()
}

func (s *soakServer) closeCounts() map[int]uint64 {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	out := make(map[int]uint64, len(s.closes))
	for k, v := range s.closes {
		out[k] = v
	}
	return out
}

func roomArg(data json.RawMessage) (string, error) {
	var room string
	if err := json.Unmarshal(data, &room); err != nil || !core.ValidRoomName(room) {
		return "", core.NewEventError(core.CodeBadRequest, "data must be a room name")
	}
	return room, nil
}

// route is the soak's route handler: join, leave, pub and bye events.
func (s *soakServer) route(c *core.Conn) error {
	st := &connState{c: c}
	s.conns.Store(c.ID(), st)
	c.OnClose(func(c *core.Conn, code int, _ string) {
		st.mu.Lock()
		st.closed = true
		st.mu.Unlock()
		s.conns.Delete(c.ID())
		s.recordClose(code)
	})
	if err := c.On("join", func(c *core.Conn, data json.RawMessage) (any, error) {
		room, err := roomArg(data)
		if err != nil {
			return nil, err
		}
		r := s.room(room)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := c.Join(room); err != nil {
			return nil, err
		}
		return r.seq, nil
	}); err != nil {
		return err
	}
	if err := c.On("leave", func(c *core.Conn, data json.RawMessage) (any, error) {
		room, err := roomArg(data)
		if err != nil {
			return nil, err
		}
		r := s.room(room)
		r.mu.Lock()
		defer r.mu.Unlock()
		c.Leave(room)
		return r.seq, nil
	}); err != nil {
		return err
	}
	if err := c.On("pub", func(c *core.Conn, data json.RawMessage) (any, error) {
		var p struct {
			Room string `json:"room"`
			Pad  string `json:"pad"`
		}
		if err := json.Unmarshal(data, &p); err != nil || !core.ValidRoomName(p.Room) {
			return nil, core.NewEventError(core.CodeBadRequest, "pub needs a room")
		}
		s.broadcast(p.Room, p.Pad)
		return nil, nil
	}); err != nil {
		return err
	}
	return c.On("bye", func(c *core.Conn, _ json.RawMessage) (any, error) {
		st.mu.Lock()
		st.closed = true
		n := st.direct
		st.mu.Unlock()
		rep := byeReply{Direct: n, Rooms: map[string]uint64{}}
		for _, room := range c.Rooms() {
			r := s.room(room)
			r.mu.Lock()
			c.Leave(room)
			rep.Rooms[room] = r.seq
			r.mu.Unlock()
		}
		return rep, nil
	})
}

func (s *soakServer) close() {
	_ = s.hub.Close()
	_ = s.srv.Close()
}
