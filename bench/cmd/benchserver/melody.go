package main

import (
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/olahol/melody"
)

// melodyServer is github.com/olahol/melody v1.1.4 used in its own pattern:
// the HTTP handler stays in HandleRequestWithKeys for the connection's life,
// every session has a writer goroutine with its own ping ticker, and a room
// is a session key selected by BroadcastBinaryFilter.
type melodyServer struct {
	m       *melody.Melody
	dropped atomic.Uint64
}

func newMelody(o options) *melodyServer {
	m := melody.New()
	m.Config.MaxMessageSize = 64 << 10 // as core's ReadLimit
	if o.ping > 0 {
		m.Config.PingPeriod = o.ping
		m.Config.PongWait = 2*o.ping + o.ping/2
	}
	s := &melodyServer{m: m}
	m.HandleError(func(_ *melody.Session, err error) {
		if errors.Is(err, melody.ErrMessageBufferFull) {
			s.dropped.Add(1)
		}
	})
	m.HandleMessageBinary(func(ss *melody.Session, msg []byte) {
		if len(msg) == 0 {
			return
		}
		switch msg[0] {
		case opPublish:
			room := ss.MustGet("room")
			_ = m.BroadcastBinaryFilter(msg, func(q *melody.Session) bool {
				v, _ := q.Get("sub")
				return v == room
			})
		case opEcho:
			_ = ss.WriteBinary(msg)
		}
	})
	return s
}

func (s *melodyServer) handler() http.Handler {
	mux := http.NewServeMux()
	sub := func(w http.ResponseWriter, r *http.Request) {
		room := r.PathValue("room")
		_ = s.m.HandleRequestWithKeys(w, r, map[string]any{"room": room, "sub": room})
	}
	mux.HandleFunc("GET /sub/{room}", sub)
	mux.HandleFunc("GET /ws/{room}", sub)
	mux.HandleFunc("GET /pub/{room}", func(w http.ResponseWriter, r *http.Request) {
		_ = s.m.HandleRequestWithKeys(w, r, map[string]any{"room": r.PathValue("room")})
	})
	return mux
}

func (s *melodyServer) conns() int         { return s.m.Len() }
func (s *melodyServer) drops() uint64      { return s.dropped.Load() }
func (s *melodyServer) slowCloses() uint64 { return 0 }
