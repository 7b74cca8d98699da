package main

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// raw is the floor: gorilla/websocket with the least work this stack allows.
// The HTTP handler returns right after the upgrade (one reader goroutine per
// connection), the read buffer is small, write buffers come from a pool and
// are held only during a write, room members are a copy-on-write slice read
// without a lock, and a broadcast is framed once (PreparedMessage) and
// written synchronously by the publisher's goroutine: no queue and no writer
// goroutine. It has no slow-consumer protection beyond the write deadline.
type raw struct {
	up   websocket.Upgrader
	ping time.Duration

	mu     sync.Mutex
	all    map[*rawConn]struct{}
	rooms  map[string]*rawRoom
	live   atomic.Int64
	fails  atomic.Uint64 // writes that failed (counted as drops)
	pinger sync.Once
}

type rawConn struct {
	ws   *websocket.Conn
	room *rawRoom // the {room} of the URL; nil for /pub when the room has no members yet
	name string
	mu   sync.Mutex // one writer at a time
}

// rawRoom's members slice is replaced, never changed where a reader can see
// it: joins append past the length readers hold, leaves copy.
type rawRoom struct {
	list atomic.Pointer[[]*rawConn]
	idx  map[*rawConn]int // guarded by raw.mu
}

func newRaw(o options) *raw {
	return &raw{
		up: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		ping:  o.ping,
		all:   make(map[*rawConn]struct{}),
		rooms: make(map[string]*rawRoom),
	}
}

func (s *raw) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sub/{room}", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) })
	mux.HandleFunc("GET /ws/{room}", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) })
	mux.HandleFunc("GET /pub/{room}", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) })
	return mux
}

func (s *raw) conns() int         { return int(s.live.Load()) }
func (s *raw) drops() uint64      { return s.fails.Load() }
func (s *raw) slowCloses() uint64 { return 0 }

func (s *raw) serve(w http.ResponseWriter, r *http.Request, join bool) {
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &rawConn{ws: ws, name: r.PathValue("room")}
	s.mu.Lock()
	s.all[c] = struct{}{}
	if join {
		c.room = s.roomLocked(c.name)
		l := *c.room.list.Load()
		c.room.idx[c] = len(l)
		l = append(l, c)
		c.room.list.Store(&l)
	}
	s.mu.Unlock()
	s.live.Add(1)
	if s.ping > 0 {
		s.pinger.Do(func() { go s.pingLoop() })
	}
	go s.readLoop(c)
}

// roomLocked returns the named room, creating it. s.mu is held.
func (s *raw) roomLocked(name string) *rawRoom {
	rm := s.rooms[name]
	if rm == nil {
		rm = &rawRoom{idx: make(map[*rawConn]int)}
		rm.list.Store(&[]*rawConn{})
		s.rooms[name] = rm
	}
	return rm
}

func (s *raw) readLoop(c *rawConn) {
	defer s.leave(c)
	var buf []byte // allocated on the first message only
	for {
		mt, rd, err := c.ws.NextReader()
		if err != nil {
			return
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := rd.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		if mt != websocket.BinaryMessage || len(buf) == 0 {
			continue
		}
		switch buf[0] {
		case opPublish:
			s.publish(c.name, buf)
		case opEcho:
			c.mu.Lock()
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if c.ws.WriteMessage(websocket.BinaryMessage, buf) != nil {
				s.fails.Add(1)
			}
			c.mu.Unlock()
		}
	}
}

func (s *raw) publish(room string, msg []byte) {
	s.mu.Lock()
	rm := s.rooms[room]
	s.mu.Unlock()
	if rm == nil {
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, msg)
	if err != nil {
		return
	}
	deadline := time.Now().Add(writeWait)
	for _, m := range *rm.list.Load() {
		m.mu.Lock()
		_ = m.ws.SetWriteDeadline(deadline)
		if m.ws.WritePreparedMessage(pm) != nil {
			s.fails.Add(1)
		}
		m.mu.Unlock()
	}
}

func (s *raw) leave(c *rawConn) {
	_ = c.ws.Close()
	s.mu.Lock()
	delete(s.all, c)
	if rm := c.room; rm != nil {
		old := *rm.list.Load()
		i := rm.idx[c]
		l := make([]*rawConn, 0, len(old))
		l = append(l, old[:i]...)
		l = append(l, old[i+1:]...)
		for j := i; j < len(l); j++ {
			rm.idx[l[j]] = j
		}
		delete(rm.idx, c)
		rm.list.Store(&l)
	}
	s.mu.Unlock()
	s.live.Add(-1)
}

// pingLoop is the one heartbeat goroutine: it pings every connection each
// interval.
func (s *raw) pingLoop() {
	t := time.NewTicker(s.ping)
	defer t.Stop()
	var batch []*rawConn
	for range t.C {
		s.mu.Lock()
		batch = batch[:0]
		for c := range s.all {
			batch = append(batch, c)
		}
		s.mu.Unlock()
		deadline := time.Now().Add(writeWait)
		for _, c := range batch {
			c.mu.Lock()
			_ = c.ws.WriteControl(websocket.PingMessage, nil, deadline)
			c.mu.Unlock()
		}
		clear(batch)
	}
}
