package protocol_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/protocol"
	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type chatIn struct {
	Text string `json:"text"`
}

type chatAck struct {
	OK  bool `json:"ok"`
	Len int  `json:"len"`
}

type chatOut struct {
	From string `json:"from"`
	Text string `json:"text"`
}

var (
	chat   = protocol.Client[chatIn, chatAck]("chat")
	typing = protocol.Client[bool, protocol.NoReply]("typing")
	said   = protocol.Server[chatOut]("said")
	seen   = protocol.Server[bool]("typing")
)

// serve mounts a hub whose route handler is fn at /ws/{room} and returns a
// connected test client.
func serve(t *testing.T, fn core.HandlerFunc) (*core.Hub, string) {
	t.Helper()
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(fn))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	return hub, "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/"
}

// room is a route handler using the declarations: "chat" is relayed to the
// room as "said" and acknowledged, "typing" to the others as "typing".
func room(c *core.Conn) error {
	r := c.Param("room")
	if err := c.Join(r); err != nil {
		return err
	}
	if err := chat.Handle(c, func(c *core.Conn, in chatIn) (chatAck, error) {
		if in.Text == "" {
			return chatAck{}, core.NewEventError(core.CodeBadRequest, "text is empty")
		}
		n, err := said.EmitTo(c.Hub().To(r), chatOut{From: c.ID()[:4], Text: in.Text})
		return chatAck{OK: err == nil, Len: n}, err
	}); err != nil {
		return err
	}
	return typing.Handle(c, func(c *core.Conn, on bool) (protocol.NoReply, error) {
		_, err := seen.EmitTo(c.To(r), on)
		return protocol.NoReply{}, err
	})
}

func TestHandleAndEmit(t *testing.T) {
	t.Parallel()
	_, url := serve(t, room)
	a := wstest.Dial(t, url+"lobby")
	b := wstest.Dial(t, url+"lobby")

	reply := a.EmitWithAck("chat", chatIn{Text: "hi"})
	if reply.Err != nil || string(reply.Data) != `{"ok":true,"len":2}` {
		t.Fatalf("chat ack = %s, %v; want {\"ok\":true,\"len\":2}", reply.Data, reply.Err)
	}
	var got chatOut
	b.ExpectInto("said", &got)
	if got.Text != "hi" {
		t.Errorf("b got said %+v, want text hi", got)
	}

	// NoReply: the ack carries null; the event reaches the others only.
	reply = b.EmitWithAck("typing", true)
	if reply.Err != nil || string(reply.Data) != "null" {
		t.Errorf("typing ack = %s, %v; want null", reply.Data, reply.Err)
	}
	if d := a.Expect("typing"); string(d) != "true" {
		t.Errorf("a got typing %s, want true", d)
	}

	// The handler's error and the decoder's are the client's ack errors.
	if r := a.EmitWithAck("chat", chatIn{}); r.Err == nil || r.Err.Code != core.CodeBadRequest || r.Err.Message != "text is empty" {
		t.Errorf("empty chat: reply %s, %+v; want bad_request text is empty", r.Data, r.Err)
	}
	if r := a.EmitWithAck("chat", map[string]int{"text": 3}); r.Err == nil || r.Err.Code != core.CodeBadRequest || !strings.Contains(r.Err.Message, `field "text"`) {
		t.Errorf("chat with a number for text: reply %s, %+v; want bad_request naming the field", r.Data, r.Err)
	}
}

func TestEmitToOneConnection(t *testing.T) {
	t.Parallel()
	_, url := serve(t, func(c *core.Conn) error {
		return said.Emit(c, chatOut{From: "server", Text: "welcome"})
	})
	a := wstest.Dial(t, url+"x")
	var got chatOut
	a.ExpectInto("said", &got)
	if got != (chatOut{From: "server", Text: "welcome"}) {
		t.Errorf("said = %+v", got)
	}
}

func TestHandleRefusesReservedAndNil(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 2)
	_, url := serve(t, func(c *core.Conn) error {
		errs <- protocol.Client[string, string]("error").Handle(c, func(*core.Conn, string) (string, error) { return "", nil })
		errs <- chat.Handle(c, nil)
		return nil
	})
	a := wstest.Dial(t, url+"x")
	defer a.Close()
	if err := <-errs; !errors.Is(err, core.ErrInvalidEvent) {
		t.Errorf("Handle on the reserved name error: %v, want ErrInvalidEvent", err)
	}
	if err := <-errs; err == nil || !strings.Contains(err.Error(), `"chat": fn is nil`) {
		t.Errorf("Handle with nil fn: %v, want an error naming the event", err)
	}
}

func TestEncode(t *testing.T) {
	t.Parallel()
	b, err := said.Encode(chatOut{From: "a", Text: "b"})
	if err != nil || string(b) != `{"event":"said","data":{"from":"a","text":"b"}}` {
		t.Errorf("Encode = %s, %v", b, err)
	}
}

func TestDeclarationMistakesPanic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		fn   func()
		want string
	}{
		{"empty event name", func() { protocol.Server[int]("") }, `invalid event name ""`},
		{"control character", func() { protocol.Client[int, int]("a\nb") }, `invalid event name "a\nb"`},
		{"long name is cut", func() { protocol.Server[int](strings.Repeat("x", 200)) }, `"` + strings.Repeat("x", 64) + `"...`},
		{"protocol name", func() { protocol.New("my-app") }, `invalid protocol name "my-app"`},
		{"duplicate", func() { protocol.New("app", chat, protocol.Client[int, int]("chat")) }, `client event "chat" declared twice`},
		{"nil event", func() { protocol.New("app", nil) }, "nil event"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.want) {
					t.Errorf("panic %v, want one containing %q", r, tc.want)
				}
			}()
			tc.fn()
		})
	}
}

func TestProtocol(t *testing.T) {
	t.Parallel()
	// A client event and a server event may share a name.
	p := protocol.New("chat", chat, typing, said, seen)
	if p.Name() != "chat" {
		t.Errorf("Name = %q", p.Name())
	}
	var got []string
	for _, e := range p.Events() {
		dir := "server"
		if e.FromClient() {
			dir = "client"
		}
		got = append(got, dir+":"+e.Name())
	}
	if strings.Join(got, " ") != "client:chat client:typing server:said server:typing" {
		t.Errorf("Events = %v", got)
	}
}
