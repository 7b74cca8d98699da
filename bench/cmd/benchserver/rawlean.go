package main

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// rawLean is the leanest gorilla/websocket server a user could write, the
// memory baseline: no rooms and no registry of connections, a 1 KiB read
// buffer, write buffers from a pool (held only during a write, at the
// default size), and one goroutine per connection that reads and answers:
// the HTTP handler returns once it has started it. A binary message whose
// first byte is 'E' is echoed; everything else is ignored. CheckOrigin is
// left nil (gorilla's same-origin check), as a user would leave it.
//
// Heartbeats, when on, are what a lean user adds: one ticker goroutine for
// the whole server pings every connection with WriteControl (which gorilla
// allows concurrently with the reader's writes), and each connection's pong
// handler moves its read deadline, so a silent peer is closed after 2.5
// intervals. The registry of connections the ticker walks exists only then.
type rawLean struct {
	up   websocket.Upgrader
	ping time.Duration
	live atomic.Int64

	// mu protects all, which is nil when heartbeats are off.
	mu     sync.Mutex
	all    map[*websocket.Conn]struct{}
	pinger sync.Once
}

func newRawLean(o options) *rawLean {
	s := &rawLean{
		up:   websocket.Upgrader{ReadBufferSize: 1024, WriteBufferPool: &sync.Pool{}},
		ping: o.ping,
	}
	if s.ping > 0 {
		s.all = make(map[*websocket.Conn]struct{})
	}
	return s
}

func (s *rawLean) handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *rawLean) conns() int         { return int(s.live.Load()) }
func (s *rawLean) drops() uint64      { return 0 }
func (s *rawLean) slowCloses() uint64 { return 0 }

func (s *rawLean) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.live.Add(1)
	if s.ping > 0 {
		wait := s.ping*2 + s.ping/2
		_ = ws.SetReadDeadline(time.Now().Add(wait))
		ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(wait)) })
		s.mu.Lock()
		s.all[ws] = struct{}{}
		s.mu.Unlock()
		s.pinger.Do(func() { go s.pingLoop() })
	}
	go s.readLoop(ws)
}

func (s *rawLean) readLoop(ws *websocket.Conn) {
	defer func() {
		_ = ws.Close()
		if s.ping > 0 {
			s.mu.Lock()
			delete(s.all, ws)
			s.mu.Unlock()
		}
		s.live.Add(-1)
	}()
	for {
		mt, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if mt == websocket.BinaryMessage && len(msg) > 0 && msg[0] == opEcho {
			_ = ws.SetWriteDeadline(time.Now().Add(writeWait))
			if ws.WriteMessage(websocket.BinaryMessage, msg) != nil {
				return
			}
		}
	}
}

// pingLoop is the one heartbeat goroutine: it pings every connection each
// interval.
func (s *rawLean) pingLoop() {
	t := time.NewTicker(s.ping)
	defer t.Stop()
	var batch []*websocket.Conn
	for range t.C {
		s.mu.Lock()
		batch = batch[:0]
		for ws := range s.all {
			batch = append(batch, ws)
		}
		s.mu.Unlock()
		deadline := time.Now().Add(writeWait)
		for _, ws := range batch {
			_ = ws.WriteControl(websocket.PingMessage, nil, deadline)
		}
		clear(batch)
	}
}
