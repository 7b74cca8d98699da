package rawws_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/internal/rawws"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoServer is a plain gorilla server that echoes every message, the
// reference the raw client is checked against.
func echoServer(t *testing.T) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			mt, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := ws.WriteMessage(mt, b); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	addr := echoServer(t)
	tests := []struct {
		name   string
		frames []rawws.Frame
		want   []rawws.Message
		pongs  int
	}{
		{"text", []rawws.Frame{rawws.Text("hello")}, []rawws.Message{{Op: rawws.OpText, Payload: []byte("hello")}}, 0},
		{"binary 70000 bytes", []rawws.Frame{rawws.Binary(bytes.Repeat([]byte{7}, 70000))},
			[]rawws.Message{{Op: rawws.OpBinary, Payload: bytes.Repeat([]byte{7}, 70000)}}, 0},
		{"fragments with a ping between", append(rawws.Fragments(rawws.OpText, []byte("abcdef"), 2)[:1],
			append([]rawws.Frame{rawws.Ping([]byte("p"))}, rawws.Fragments(rawws.OpText, []byte("abcdef"), 2)[1:]...)...),
			[]rawws.Message{{Op: rawws.OpText, Payload: []byte("abcdef")}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := rawws.Dial(addr, "/", nil, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			frames := append(tt.frames, rawws.Close(rawws.ClosePayload(1000, "bye")))
			if err := c.WriteChopped(rawws.Join(frames...), 3); err != nil {
				t.Fatal(err)
			}
			res := c.Drain(5 * time.Second)
			if res.Code != 1000 || res.Err != nil {
				t.Fatalf("close = %d, err %v", res.Code, res.Err)
			}
			if len(res.Messages) != len(tt.want) || len(res.Pongs) != tt.pongs {
				t.Fatalf("got %d messages, %d pongs", len(res.Messages), len(res.Pongs))
			}
			for i, m := range res.Messages {
				if m.Op != tt.want[i].Op || !bytes.Equal(m.Payload, tt.want[i].Payload) {
					t.Fatalf("message %d = %d %q", i, m.Op, m.Payload)
				}
			}
		})
	}
}

func TestProtocolErrorSeen(t *testing.T) {
	t.Parallel()
	c, err := rawws.Dial(echoServer(t), "/", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFrames(rawws.Frame{Fin: true, Op: 3}); err != nil {
		t.Fatal(err)
	}
	if res := c.Drain(5 * time.Second); res.Code != rawws.CloseProtocolError {
		t.Fatalf("close = %d, want 1002", res.Code)
	}
}

func TestHandshakeRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := rawws.Dial(strings.TrimPrefix(srv.URL, "http://"), "/", nil, 5*time.Second)
	var he *rawws.HandshakeError
	if !asHandshake(err, &he) || he.Status != http.StatusNotFound {
		t.Fatalf("err = %v, want a 404 HandshakeError", err)
	}
}

func asHandshake(err error, target **rawws.HandshakeError) bool {
	return errors.As(err, target)
}

func TestParseClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload []byte
		code    int
		ok      bool
	}{
		{"empty", nil, 1005, true},
		{"one byte", []byte{3}, 0, false},
		{"code", rawws.ClosePayload(1001, ""), 1001, true},
		{"invalid reason", rawws.ClosePayload(1000, "\xff"), 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, ok := rawws.ParseClose(tt.payload)
			if code != tt.code || ok != tt.ok {
				t.Fatalf("ParseClose = %d, %v", code, ok)
			}
		})
	}
}
