package main

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// gwsServer is github.com/lxzan/gws v1.8.9 written as its README recommends
// for a server on net/http: the handler upgrades, starts ReadLoop in a
// goroutine of its own and returns ("blocking prevents the context from
// being GC"), ParallelEnabled off (one goroutine per connection handles its
// messages in order; v1.8.9 has no ReadAsyncEnabled, which ParallelEnabled
// replaced), permessage-deflate off (its default: the docs warn that
// compression with context takeover costs memory per connection), and its
// other options at their defaults (a 4 KiB ReadBufferSize, held by each
// connection for its life). There are no rooms: any path upgrades, and a
// binary message whose first byte is 'E' is echoed.
//
// Heartbeats, when on, follow the README's deadline pattern with the server
// pinging: one ticker goroutine pings every connection, and OnOpen and
// OnPong move the connection's deadline to 2.5 intervals ahead.
type gwsServer struct {
	up    *gws.Upgrader
	ping  time.Duration
	live  atomic.Int64
	pings *heartbeat[*gws.Conn] // nil when heartbeats are off
}

func newGws(o options) *gwsServer {
	s := &gwsServer{ping: o.ping}
	if s.ping > 0 {
		s.pings = newHeartbeat(s.ping, func(c *gws.Conn) { _ = c.WritePing(nil) })
	}
	s.up = gws.NewUpgrader(s, &gws.ServerOption{
		ParallelEnabled: false,
		Recovery:        gws.Recovery,
	})
	return s
}

func (s *gwsServer) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		socket, err := s.up.Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
}

func (s *gwsServer) conns() int         { return int(s.live.Load()) }
func (s *gwsServer) drops() uint64      { return 0 }
func (s *gwsServer) slowCloses() uint64 { return 0 }

// OnOpen, OnClose, OnPing, OnPong and OnMessage are gws's event handler.

func (s *gwsServer) OnOpen(socket *gws.Conn) {
	s.live.Add(1)
	if s.pings != nil {
		_ = socket.SetDeadline(time.Now().Add(s.ping*2 + s.ping/2))
		s.pings.add(socket)
	}
}

func (s *gwsServer) OnClose(socket *gws.Conn, _ error) {
	if s.pings != nil {
		s.pings.remove(socket)
	}
	s.live.Add(-1)
}

func (s *gwsServer) OnPing(socket *gws.Conn, _ []byte) { _ = socket.WritePong(nil) }

func (s *gwsServer) OnPong(socket *gws.Conn, _ []byte) {
	if s.pings != nil {
		_ = socket.SetDeadline(time.Now().Add(s.ping*2 + s.ping/2))
	}
}

func (s *gwsServer) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	if b := message.Bytes(); message.Opcode == gws.OpcodeBinary && len(b) > 0 && b[0] == opEcho {
		_ = socket.WriteMessage(gws.OpcodeBinary, b)
	}
}
