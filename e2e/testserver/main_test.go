package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serve starts the test server's routes on httptest.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	h, hub, err := newServer([]byte("e2e-test-key-not-secret-32-bytes!"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hub.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

// The routes do what e2e/node and e2e/ws.mjs rely on.
func TestRoutes(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	c := wstest.Dial(t, srv.URL+"/ws")
	c.Expect("welcome")
	if r := c.EmitWithAck("echo", map[string]int{"a": 1}); r.Err != nil || string(r.Data) != `{"a":1}` {
		t.Fatalf("echo: %s %+v", r.Data, r.Err)
	}
	if r := c.EmitWithAck("fail", map[string]string{"code": "forbidden", "message": "no"}); r.Err == nil || r.Err.Code != "forbidden" {
		t.Fatalf("fail: %s %+v, want a forbidden error", r.Data, r.Err)
	}
	c.SendBinary([]byte{1, 2})
	if mt, data := c.ExpectMessage(); mt != core.BinaryMessage || string(data) != "\x01\x02" {
		t.Fatalf("binary echo: type %d %q", mt, data)
	}
	c.Emit("ask", "q")
	q := c.ExpectEvent("question")
	c.Ack(q.Ack, "a")
	if got := string(c.Expect("answer")); got != `{"data":"a"}` {
		t.Fatalf("answer = %s", got)
	}
	c.Emit("bye", map[string]any{"code": 4403, "reason": "go"})
	if reason := c.ExpectClose(4403); reason != "go" {
		t.Fatalf("close reason %q", reason)
	}

	s := wstest.Dial(t, srv.URL+"/ws/strict")
	s.Expect("welcome")
	s.Send("not json")
	s.ExpectError(core.CodeBadRequest)

	resp, err := srv.Client().Get(srv.URL + "/token?sub=a&ttl=1m")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := wstest.Dial(t, srv.URL+"/ws/auth", wstest.WithHeader(http.Header{"Authorization": {"Bearer " + string(tok)}}))
	if got := string(a.Expect("welcome")); got == "" || !strings.Contains(got, `"sub":"a"`) {
		t.Fatalf("welcome on /ws/auth = %s, want sub a", got)
	}
	n := wstest.Dial(t, srv.URL+"/ws/auth")
	n.ExpectClose(core.CloseUnauthorized)
}
