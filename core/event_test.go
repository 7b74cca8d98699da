package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

func TestBadEvents(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if err := chat(c); err != nil {
			return err
		}
		type joinMsg struct {
			Room string `json:"room"`
		}
		return core.Handle(c, "join", func(c *core.Conn, m joinMsg) (any, error) {
			if err := c.Join(m.Room); err != nil {
				return nil, core.NewEventError(core.CodeBadRequest, err.Error())
			}
			return "joined", nil
		})
	})
	c := wstest.Dial(t, s.url("lobby"))
	other := wstest.Dial(t, s.url("lobby"))
	tests := []struct {
		name string
		send string
		code string
	}{
		{"malformed JSON", `{"event":"chat",`, core.CodeBadRequest},
		{"not JSON", `hello`, core.CodeBadRequest},
		{"JSON array", `[1,2]`, core.CodeBadRequest},
		{"event is a number", `{"event":5}`, core.CodeBadRequest},
		{"no event", `{"data":1}`, core.CodeBadRequest},
		{"empty event", `{"event":""}`, core.CodeBadRequest},
		{"event with control char", `{"event":"a\u0007b"}`, core.CodeBadRequest},
		{"oversized event", `{"event":"` + strings.Repeat("e", 129) + `"}`, core.CodeBadRequest},
		{"unknown event", `{"event":"nope"}`, core.CodeUnknownEvent},
		{"typed data of the wrong shape", `{"event":"join","data":{"room":42}}`, core.CodeBadRequest},
		{"typed data not an object", `{"event":"join","data":"lobby"}`, core.CodeBadRequest},
		{"empty room name", `{"event":"join","data":{"room":""}}`, core.CodeBadRequest},
		{"oversized room name", `{"event":"join","data":{"room":"` + strings.Repeat("r", 257) + `"}}`, core.CodeBadRequest},
		{"room name with newline", `{"event":"join","data":{"room":"a\nb"}}`, core.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Send(tt.send)
			e := c.ExpectError(tt.code)
			if e.Message == "" {
				t.Fatal("error event without message")
			}
			roundTrip(t, c)
		})
	}
	c.Emit("chat", "still here")
	other.Expect("chat")
	if n := s.hub.Stats().Connections; n != 2 {
		t.Fatalf("Connections = %d, want 2", n)
	}
	if _, ok := s.hub.Room(strings.Repeat("r", 257)); ok {
		t.Fatal("an invalid room was created")
	}
}

func TestAcks(t *testing.T) {
	t.Parallel()
	inHandler := make(chan error, 1)
	viaFunc := make(chan string, 1)
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		core.Handle(c, "add", func(c *core.Conn, nums []int) (any, error) {
			sum := 0
			for _, n := range nums {
				sum += n
			}
			return sum, nil
		})
		c.On("fail", func(c *core.Conn, _ json.RawMessage) (any, error) {
			return nil, core.NewEventError(core.CodeForbidden, "not you")
		})
		c.On("oops", func(c *core.Conn, _ json.RawMessage) (any, error) {
			return nil, errors.New("database password is hunter2")
		})
		c.On("ask-me", func(c *core.Conn, _ json.RawMessage) (any, error) {
			_, err := c.EmitWithAck(context.Background(), "question", 1)
			inHandler <- err
			return nil, c.EmitWithAckFunc("question", 2, 5*time.Second, func(data json.RawMessage, err error) {
				viaFunc <- string(data)
			})
		})
		return nil
	})
	c := wstest.Dial(t, s.url("x"))

	if r := c.EmitWithAck("add", []int{1, 2, 3}); r.Err != nil || string(r.Data) != "6" {
		t.Fatalf("add: %+v", r)
	}
	if r := c.EmitWithAck("add", "not numbers"); r.Err == nil || r.Err.Code != core.CodeBadRequest {
		t.Fatalf("add with bad data: %+v", r)
	}
	if r := c.EmitWithAck("fail", nil); r.Err == nil || r.Err.Code != core.CodeForbidden || r.Err.Message != "not you" {
		t.Fatalf("fail: %+v", r)
	}
	r := c.EmitWithAck("oops", nil)
	if r.Err == nil || r.Err.Code != core.CodeInternal || strings.Contains(r.Err.Message, "hunter2") {
		t.Fatalf("oops: %+v, want internal without detail", r)
	}
	if r := c.EmitWithAck("missing", nil); r.Err == nil || r.Err.Code != core.CodeUnknownEvent {
		t.Fatalf("unknown event with ack: %+v", r)
	}

	// Server to client, from inside the connection's own handler.
	c.Emit("ask-me", nil)
	if err := <-inHandler; !errors.Is(err, core.ErrAckInHandler) {
		t.Fatalf("EmitWithAck in handler: %v, want ErrAckInHandler", err)
	}
	q := c.ExpectEvent("question")
	if q.Ack == 0 || string(q.Data) != "2" {
		t.Fatalf("question = %+v", q)
	}
	c.Ack(q.Ack, "forty-two")
	if got := <-viaFunc; got != `"forty-two"` {
		t.Fatalf("ack via func = %s", got)
	}

	// Server to client, from another goroutine.
	conn := s.hub.Connections()[0]
	done := make(chan string, 1)
	go func() {
		data, err := conn.EmitWithAck(context.Background(), "question", 3)
		if err != nil {
			done <- err.Error()
			return
		}
		done <- string(data)
	}()
	q = c.ExpectEvent("question")
	c.Ack(q.Ack, 7)
	if got := <-done; got != "7" {
		t.Fatalf("EmitWithAck = %s", got)
	}

	// A reply that never comes ends with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := conn.EmitWithAck(ctx, "question", 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered: %v", err)
	}
	c.Expect("question")
}

func TestOnceOffAndRaw(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		c.Once("hi", func(c *core.Conn, _ json.RawMessage) (any, error) { return "first", nil })
		c.On("drop", func(c *core.Conn, _ json.RawMessage) (any, error) {
			c.Off("drop")
			return "dropped", nil
		})
		if err := c.On("error", func(*core.Conn, json.RawMessage) (any, error) { return nil, nil }); !errors.Is(err, core.ErrInvalidEvent) {
			return &core.CloseError{Code: 4000, Reason: "reserved name accepted"}
		}
		return nil
	})
	c := wstest.Dial(t, s.url("x"))
	if r := c.EmitWithAck("hi", nil); string(r.Data) != `"first"` {
		t.Fatalf("first hi: %+v", r)
	}
	if r := c.EmitWithAck("hi", nil); r.Err == nil || r.Err.Code != core.CodeUnknownEvent {
		t.Fatalf("second hi: %+v", r)
	}
	c.EmitWithAck("drop", nil)
	if r := c.EmitWithAck("drop", nil); r.Err == nil {
		t.Fatalf("after Off: %+v", r)
	}

	// With a raw handler, everything without an event handler goes to it.
	type frame struct {
		mt   int
		data string
	}
	raw := make(chan frame, 4)
	s2 := newServer(t, core.Config{}, func(c *core.Conn) error {
		c.OnMessage(func(c *core.Conn, mt int, data []byte) error {
			raw <- frame{mt, string(data)}
			return nil
		})
		return nil
	})
	c2 := wstest.Dial(t, s2.url("x"))
	c2.Send(`{"type":"legacy"}`)
	c2.SendBinary([]byte{1, 2})
	c2.Emit("unhandled", 1)
	want := []frame{{websocket.TextMessage, `{"type":"legacy"}`}, {websocket.BinaryMessage, "\x01\x02"}, {websocket.TextMessage, `{"event":"unhandled","data":1}`}}
	for _, w := range want {
		if got := <-raw; got != w {
			t.Fatalf("raw frame = %+v, want %+v", got, w)
		}
	}
}

func TestPanickingHandler(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if err := chat(c); err != nil {
			return err
		}
		return c.On("boom", func(c *core.Conn, _ json.RawMessage) (any, error) {
			panic("handler bug")
		})
	})
	victim := wstest.Dial(t, s.url("lobby"))
	other := wstest.Dial(t, s.url("lobby"))
	eventually(t, "two members", func() bool { r, _ := s.hub.Room("lobby"); return r.Members == 2 })
	victim.Emit("boom", nil)
	victim.ExpectClose(core.CloseInternal)
	roundTrip(t, other)
	eventually(t, "the victim to be gone", func() bool { return s.hub.Stats().Connections == 1 })
	if s.hub.Stats().Errors == 0 {
		t.Fatal("panic not counted")
	}
	if !strings.Contains(s.logs.String(), "handler panicked") || !strings.Contains(s.logs.String(), "goroutine") {
		t.Fatal("panic not logged with its stack")
	}
	if r, _ := s.hub.Room("lobby"); r.Members != 1 {
		t.Fatalf("lobby members = %d, want 1", r.Members)
	}
}

func TestRouteHandlerPanics(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if c.Param("room") == "bad" {
			panic("route handler bug")
		}
		return chat(c)
	})
	ok := wstest.Dial(t, s.url("good"))
	bad := wstest.Dial(t, s.url("bad"))
	bad.ExpectClose(core.CloseInternal)
	roundTrip(t, ok)
}
