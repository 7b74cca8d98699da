package core_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// A handler's own sends are written by the read goroutine after it returns,
// unless they fill half the queue: a handler that sends more than that (but
// less than the bound) must see them all delivered, in order, and the
// connection stay open.
func TestHandlerSendsMoreThanHalfTheQueue(t *testing.T) {
	t.Parallel()
	const n = 200 // over half the default bound of 256 messages
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if err := chat(c); err != nil {
			return err
		}
		return c.On("burst", func(c *core.Conn, _ json.RawMessage) (any, error) {
			for i := range n {
				if err := c.Emit("item", i); err != nil {
					return nil, err
				}
			}
			return nil, nil
		})
	})
	cl := wstest.Dial(t, s.url("lobby"))
	cl.Emit("burst", nil)
	for i := range n {
		var got int
		cl.ExpectInto("item", &got)
		if got != i {
			t.Fatalf("item %d arrived as %d", i, got)
		}
	}
	roundTrip(t, cl)
	if st := s.hub.Stats(); st.SlowCloses != 0 || st.Drops != 0 {
		t.Fatalf("SlowCloses %d, Drops %d; want 0", st.SlowCloses, st.Drops)
	}
}

// What others queue for a connection while its handler runs is delivered
// once the handler returns, after what the handler sent before.
func TestSendsDuringHandlerAreDelivered(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if err := chat(c); err != nil {
			return err
		}
		return c.On("wait", func(c *core.Conn, _ json.RawMessage) (any, error) {
			if err := c.Emit("before", nil); err != nil {
				return nil, err
			}
			entered <- struct{}{}
			<-release
			return "done", nil
		})
	})
	cl := wstest.Dial(t, s.url("lobby"))
	done := make(chan wstest.Reply, 1)
	go func() { done <- cl.EmitWithAck("wait", nil) }()
	<-entered
	if n, err := s.hub.To("lobby").Emit("news", 1); err != nil || n != 1 {
		t.Fatalf("Emit = %d, %v", n, err)
	}
	close(release)
	<-done
	cl.Expect("before")
	cl.Expect("news")
	roundTrip(t, cl)
}

// A handler that closes its own connection: the close frame is written by
// the read goroutine after the handler's earlier sends.
func TestHandlerClosesAfterSending(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		return c.On("bye", func(c *core.Conn, _ json.RawMessage) (any, error) {
			if err := c.Emit("last", "words"); err != nil {
				return nil, err
			}
			return nil, c.Close(4000, "done")
		})
	})
	cl := wstest.Dial(t, s.url("lobby"))
	cl.Emit("bye", nil)
	cl.Expect("last")
	cl.ExpectClose(4000)
	eventually(t, "the connection to end", func() bool { return s.hub.Stats().Connections == 0 })
}

// Messages of many sizes, read into reused buffers, reach the raw handler
// intact: a short message after a long one carries nothing of it.
func TestReusedReadBuffers(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{ReadLimit: 70000}, func(c *core.Conn) error {
		c.OnMessage(func(c *core.Conn, mt int, data []byte) error {
			if mt == core.BinaryMessage {
				return c.SendBinary(data)
			}
			return c.Send(string(data))
		})
		return nil
	})
	cl := wstest.Dial(t, s.url("lobby"))
	for _, size := range []int{1, 70000, 3, 1023, 1024, 1025, 65536, 0, 4096, 70000, 2} {
		msg := bytes.Repeat([]byte{byte('a' + size%26)}, size)
		cl.SendBinary(msg)
		mt, got := cl.ExpectMessage()
		if mt != websocket.BinaryMessage || !bytes.Equal(got, msg) {
			t.Fatalf("size %d: got type %d, %d bytes", size, mt, len(got))
		}
	}
	cl.SendBinary(make([]byte, 70001))
	cl.ExpectClose(core.CloseTooBig)
}

// Many clients echo while broadcasts go to all of them: every client gets
// its own echoes in order and every broadcast, under -race.
func TestEchoWhileBroadcasting(t *testing.T) {
	t.Parallel()
	const clients, msgs, news = 8, 100, 50
	s := newServer(t, core.Config{}, chat)
	cls := make([]*wstest.Client, clients)
	for i := range cls {
		cls[i] = wstest.Dial(t, s.url("lobby"))
	}
	eventually(t, "every member", func() bool { r, _ := s.hub.Room("lobby"); return r.Members == clients })
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range news {
			if _, err := s.hub.To("lobby").Emit("news", i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i, cl := range cls {
		wg.Go(func() {
			for j := range msgs {
				cl.Emit("echo", fmt.Sprintf("%d-%d", i, j))
			}
		})
	}
	wg.Wait()
	for i, cl := range cls {
		for j := range msgs {
			var got string
			cl.ExpectInto("echo", &got)
			if want := fmt.Sprintf("%d-%d", i, j); got != want {
				t.Fatalf("client %d: echo %q, want %q", i, got, want)
			}
		}
		for j := range news {
			var got int
			cl.ExpectInto("news", &got)
			if got != j {
				t.Fatalf("client %d: news %d, want %d", i, got, j)
			}
		}
	}
}
