package core_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

func TestReadLimit(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{ReadLimit: 1024}, chat)
	big := wstest.Dial(t, s.url("lobby"))
	other := wstest.Dial(t, s.url("lobby"))
	big.Emit("chat", strings.Repeat("x", 2000))
	big.ExpectClose(core.CloseTooBig)
	other.ExpectNoEvent("chat", 50*time.Millisecond)
	roundTrip(t, other)
	eventually(t, "the big sender to leave", func() bool { return s.hub.Stats().Connections == 1 })
}

func TestReadLimitAfterDecompression(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{ReadLimit: 1024, EnableCompression: true}, chat)
	d := *websocket.DefaultDialer
	d.EnableCompression = true
	c := wstest.Dial(t, s.url("lobby"), wstest.WithDialer(&d))
	c.Conn().EnableWriteCompression(true)
	// 100 KB of one letter compresses to well under the 1 KB limit.
	c.Emit("chat", strings.Repeat("a", 100_000))
	c.ExpectClose(core.CloseTooBig)

	small := wstest.Dial(t, s.url("lobby"), wstest.WithDialer(&d))
	small.Conn().EnableWriteCompression(true)
	roundTrip(t, small)
}

func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if err := chat(c); err != nil {
			return err
		}
		c.OnMessage(func(c *core.Conn, mt int, data []byte) error {
			_, err := c.To(c.Param("room")).Send(string(data))
			return err
		})
		return nil
	})
	bad := wstest.Dial(t, s.url("lobby"))
	other := wstest.Dial(t, s.url("lobby"))
	eventually(t, "two members", func() bool { r, _ := s.hub.Room("lobby"); return r.Members == 2 })
	bad.SendRaw(websocket.TextMessage, []byte("caf\xc3\x28 not utf-8"))
	bad.ExpectClose(core.CloseInvalidPayload)
	other.ExpectNoEvent("chat", 50*time.Millisecond)
	roundTrip(t, other)
	// The echo is counted once written, which may be just after it arrives.
	eventually(t, "the echo to be counted", func() bool { return s.hub.Stats().MessagesOut >= 1 })
	if n := s.hub.Stats().MessagesOut; n != 1 { // only other's echo
		t.Fatalf("MessagesOut = %d, want 1: invalid text must never be relayed", n)
	}
	// Servers refuse to send invalid text too.
	if _, err := s.hub.Broadcast().Send("\xff"); !errors.Is(err, core.ErrInvalidUTF8) {
		t.Fatalf("Broadcast().Send(invalid) = %v", err)
	}
}

func TestRoomLimits(t *testing.T) {
	t.Parallel()
	joinMany := func(c *core.Conn) error {
		return c.On("join-many", func(c *core.Conn, data json.RawMessage) (any, error) {
			var n int
			if err := json.Unmarshal(data, &n); err != nil {
				return nil, err
			}
			for i := 0; i < n; i++ {
				if err := c.Join(fmt.Sprintf("room-%d", i)); err != nil {
					return map[string]any{"joined": i, "error": err.Error()}, nil
				}
			}
			return map[string]any{"joined": n}, nil
		})
	}
	s := newServer(t, core.Config{}, joinMany)
	c := wstest.Dial(t, s.url("x"))
	var got struct {
		Joined int    `json:"joined"`
		Error  string `json:"error"`
	}
	r := c.EmitWithAck("join-many", 1000)
	if err := json.Unmarshal(r.Data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Joined != core.DefaultMaxRoomsPerConn || !strings.HasPrefix(got.Error, core.ErrTooManyRooms.Error()+": ") {
		t.Fatalf("1,000 joins: %+v, want %d then %q", got, core.DefaultMaxRoomsPerConn, core.ErrTooManyRooms)
	}
	// On a hub with MaxRooms, the hub's cap applies.
	s2 := newServer(t, core.Config{MaxRooms: 50, MaxRoomsPerConn: -1}, joinMany)
	c2 := wstest.Dial(t, s2.url("y"))
	r = c2.EmitWithAck("join-many", 1000)
	got.Error = ""
	_ = json.Unmarshal(r.Data, &got)
	if got.Joined != 50 || !strings.HasPrefix(got.Error, core.ErrTooManyRooms.Error()+": ") {
		t.Fatalf("MaxRooms 50: %+v", got)
	}
	if n := s.hub.Stats().Rooms; n != core.DefaultMaxRoomsPerConn {
		t.Fatalf("Rooms = %d, want %d", n, core.DefaultMaxRoomsPerConn)
	}
	c.Close()
	c2.Close()
	eventually(t, "every room to disappear", func() bool { return s.hub.Stats().Rooms == 0 && s2.hub.Stats().Rooms == 0 })
}

func TestJoinLeaveIdempotent(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		for i := 0; i < 3; i++ {
			if err := c.Join("a", "b"); err != nil {
				return err
			}
		}
		c.Leave("b", "b", "never-joined")
		return c.Emit("rooms", c.Rooms())
	})
	c := wstest.Dial(t, s.url("x"))
	var rooms []string
	c.ExpectInto("rooms", &rooms)
	if strings.Join(rooms, ",") != "a" {
		t.Fatalf("rooms = %v", rooms)
	}
	if info := s.hub.Rooms(); len(info) != 1 || info[0].Name != "a" || info[0].Members != 1 {
		t.Fatalf("hub rooms = %+v", info)
	}
}

func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		policy core.SlowConsumerPolicy
	}{{"close", core.SlowClose}, {"drop", core.SlowDrop}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := core.Config{SlowConsumer: tt.policy, SendQueueMessages: 16, SendQueueBytes: 64 << 10}
			if tt.policy == core.SlowClose {
				// The stalled peer gets one WriteTimeout to take its last
				// frame and the close frame before it is dropped.
				cfg.WriteTimeout = 500 * time.Millisecond
			} else {
				// The stalled peer's write blocks all along: a run longer
				// than the default WriteTimeout (on a busy machine) must
				// not close it.
				cfg.WriteTimeout = time.Hour
			}
			s := newServer(t, cfg, chat)
			stalled := wstest.Dial(t, s.url("lobby"))
			fast := wstest.Dial(t, s.url("lobby"))
			eventually(t, "two members", func() bool { r, _ := s.hub.Room("lobby"); return r.Members == 2 })
			// stalled never reads; fast reads everything. 4,000 messages of
			// 4 KiB fill stalled's socket buffers and then its queue, while
			// the publisher keeps within a few messages of fast.
			payload := strings.Repeat("z", 4096)
			const n = 4000
			progress := make(chan int, n)
			go func() {
				count := 0
				for count < n {
					_ = fast.Conn().SetReadDeadline(time.Now().Add(10 * time.Second))
					_, data, err := fast.Conn().ReadMessage()
					if err != nil {
						break
					}
					if bytes.Contains(data, []byte(`"event":"news"`)) {
						count++
						progress <- count
					}
				}
				close(progress)
			}()
			received := 0
			for i := 1; i <= n; i++ {
				if _, err := s.hub.To("lobby").Emit("news", payload); err != nil {
					t.Fatal(err)
				}
				for received < i-4 {
					c, ok := <-progress
					if !ok {
						t.Fatalf("fast client stopped after %d of %d", received, n)
					}
					received = c
				}
			}
			for c := range progress {
				received = c
			}
			if received != n {
				t.Fatalf("fast client got %d of %d", received, n)
			}
			st := s.hub.Stats()
			switch tt.policy {
			case core.SlowClose:
				if st.SlowCloses != 1 {
					t.Fatalf("SlowCloses = %d, want 1", st.SlowCloses)
				}
				eventually(t, "the slow consumer to be gone", func() bool { return s.hub.Stats().Connections == 1 })
			case core.SlowDrop:
				if st.Drops == 0 || st.SlowCloses != 0 || st.Connections != 2 {
					t.Fatalf("drop policy: %+v", st)
				}
			}
			_ = stalled
		})
	}
}

func TestClientCloses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		close func(c *wstest.Client)
		code  int
	}{
		{"normal", func(c *wstest.Client) { c.CloseWith(1000, "bye") }, 1000},
		{"going away", func(c *wstest.Client) { c.CloseWith(1001, "tab closed") }, 1001},
		{"app code", func(c *wstest.Client) { c.CloseWith(4000, "custom") }, 4000},
		{"TCP reset", func(c *wstest.Client) { c.Abort() }, core.CloseAbnormal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var closes atomic.Int32
			codes := make(chan int, 2)
			s := newServer(t, core.Config{}, func(c *core.Conn) error {
				if err := chat(c); err != nil {
					return err
				}
				if err := c.Join("second"); err != nil {
					return err
				}
				c.OnClose(func(c *core.Conn, code int, reason string) {
					closes.Add(1)
					codes <- code
				})
				return nil
			})
			leaver := wstest.Dial(t, s.url("lobby"))
			stayer := wstest.Dial(t, s.url("lobby"))
			roundTrip(t, leaver)
			tt.close(leaver)
			if code := <-codes; code != tt.code {
				t.Fatalf("OnClose code = %d, want %d", code, tt.code)
			}
			eventually(t, "one connection left", func() bool { return s.hub.Stats().Connections == 1 })
			for _, name := range []string{"lobby", "second"} {
				if r, ok := s.hub.Room(name); !ok || r.Members != 1 {
					t.Fatalf("room %s = %+v, want 1 member", name, r)
				}
			}
			roundTrip(t, stayer)
			if n := closes.Load(); n != 1 {
				t.Fatalf("OnClose ran %d times", n)
			}
		})
	}
}

func TestServerClose(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		return c.On("bye", func(c *core.Conn, _ json.RawMessage) (any, error) {
			if err := c.Close(999, ""); err == nil {
				return nil, errors.New("close code 999 accepted")
			}
			c.Emit("last", "words")
			return nil, c.Close(4001, "done")
		})
	})
	c := wstest.Dial(t, s.url("x"))
	c.Emit("bye", nil)
	c.Expect("last")
	if reason := c.ExpectClose(4001); reason != "done" {
		t.Fatalf("reason = %q", reason)
	}
}

func TestContextCancelledOnClose(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		ctx := c.Context()
		go func() {
			<-ctx.Done()
			close(done)
		}()
		return nil
	})
	c := wstest.Dial(t, s.url("x"))
	c.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("context not cancelled on close")
	}
}
