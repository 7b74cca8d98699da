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
	up    websocket.Upgrader
	ping  time.Duration
	live  atomic.Int64
	pings *heartbeat[*websocket.Conn] // nil when heartbeats are off
}

func newRawLean(o options) *rawLean {
	s := &rawLean{
		up:   websocket.Upgrader{ReadBufferSize: 1024, WriteBufferPool: &sync.Pool{}},
		ping: o.ping,
	}
	if s.ping > 0 {
		s.pings = newHeartbeat(s.ping, func(ws *websocket.Conn) {
			_ = ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
		})
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
	if s.pings != nil {
		wait := s.ping*2 + s.ping/2
		_ = ws.SetReadDeadline(time.Now().Add(wait))
		ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(wait)) })
		s.pings.add(ws)
	}
	go s.readLoop(ws)
}

func (s *rawLean) readLoop(ws *websocket.Conn) {
	defer func() {
		_ = ws.Close()
		if s.pings != nil {
			s.pings.remove(ws)
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
