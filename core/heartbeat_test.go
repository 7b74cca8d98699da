package core_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// TestHeartbeatPingsEveryShard checks that the heartbeat, which pings one
// slice of the connections at a time, still reaches every connection and
// closes none that answers.
func TestHeartbeatPingsEveryShard(t *testing.T) {
	t.Parallel()
	const n = 40
	s := newServer(t, core.Config{PingInterval: 160 * time.Millisecond, PongTimeout: 2 * time.Second}, chat)
	pings := make([]atomic.Int32, n)
	done := make(chan struct{}, n)
	clients := make([]*wstest.Client, n)
	for i := range clients {
		cl := wstest.Dial(t, s.url("lobby"))
		clients[i] = cl
		ws := cl.Conn()
		ws.SetPingHandler(func(data string) error {
			pings[i].Add(1)
			return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	eventually(t, "a ping on every connection, twice", func() bool {
		for i := range pings {
			if pings[i].Load() < 2 {
				return false
			}
		}
		return true
	})
	if st := s.hub.Stats(); st.Timeouts != 0 || st.Connections != n {
		t.Fatalf("Timeouts = %d, Connections = %d; want 0 and %d", st.Timeouts, st.Connections, n)
	}
	for _, cl := range clients {
		cl.Abort()
	}
	for range clients {
		<-done
	}
}
