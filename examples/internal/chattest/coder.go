package chattest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/examples/internal/chat"
	"github.com/rushws/rushws/wstest"
)

// coderEnvelope is a frame as a client decodes it, read with a WebSocket
// implementation other than the gorilla one rushws is built on.
type coderEnvelope struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	Ack   uint64          `json:"ack"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// coderRead reads the next text frame and decodes it.
func coderRead(ctx context.Context, t *testing.T, c *websocket.Conn) coderEnvelope {
	t.Helper()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("coder/websocket read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("coder/websocket read a %v frame, want text", typ)
	}
	var env coderEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("frame %s is not JSON: %v", data, err)
	}
	return env
}

// testCoderClient chats through the app with github.com/coder/websocket,
// an independent implementation of RFC 6455, beside a gorilla client:
// handshake, events, acks, error events, binary frames and the close code
// of a shutdown all look the same from there.
func testCoderClient(t *testing.T, newApp NewAppFunc) {
	srv, hub := startApp(t, newApp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/lobby?name=coder", nil)
	if err != nil {
		t.Fatalf("coder/websocket dial: %v", err)
	}
	defer c.CloseNow()
	if resp.StatusCode != 101 {
		t.Fatalf("handshake status %d, want 101", resp.StatusCode)
	}
	var p chat.Presence
	env := coderRead(ctx, t, c)
	if env.Event == "session" {
		// A hub with recovery on sends its session message first; a
		// client that does not recover ignores it.
		env = coderRead(ctx, t, c)
	}
	if err := json.Unmarshal(env.Data, &p); err != nil || env.Event != "joined" || p != (chat.Presence{Name: "coder", Room: "lobby", Members: 1}) {
		t.Fatalf("first frame = %+v, want joined by coder", env)
	}

	gorilla := wstest.Dial(t, srv.URL+"/ws/lobby?name=gorilla")
	gorilla.Expect("joined")
	if env := coderRead(ctx, t, c); env.Event != "joined" {
		t.Fatalf("frame = %+v, want gorilla's joined", env)
	}

	// An event with an ack: the relay and the reply both arrive.
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"event":"chat","data":{"text":"from coder"},"ack":7}`)); err != nil {
		t.Fatal(err)
	}
	var gotReply, gotRelay bool
	for !gotReply || !gotRelay {
		env := coderRead(ctx, t, c)
		switch {
		case env.Ack == 7 && env.Event == "" && string(env.Data) == `{"ok":true}`:
			gotReply = true
		case env.Event == "chat" && strings.Contains(string(env.Data), `"text":"from coder"`):
			gotRelay = true
		default:
			t.Fatalf("frame = %+v, want the ack reply and the relay", env)
		}
	}
	expectChat(t, gorilla, "coder", "from coder")

	// What gorilla says reaches coder.
	gorilla.Emit("chat", map[string]string{"text": "from gorilla"})
	if env := coderRead(ctx, t, c); env.Event != "chat" || !strings.Contains(string(env.Data), `"name":"gorilla"`) {
		t.Fatalf("frame = %+v, want gorilla's chat", env)
	}
	gorilla.Expect("chat")

	// Bad input gets error events; the connection stays.
	tests := []struct {
		name string
		typ  websocket.MessageType
		data string
		code string
	}{
		{"not JSON", websocket.MessageText, "hello", core.CodeBadRequest},
		{"unknown event", websocket.MessageText, `{"event":"nope","data":1}`, core.CodeUnknownEvent},
		{"binary", websocket.MessageBinary, "\x00\x01", core.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Write(ctx, tt.typ, []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			env := coderRead(ctx, t, c)
			var e core.EventError
			if err := json.Unmarshal(env.Data, &e); err != nil || env.Event != "error" || e.Code != tt.code {
				t.Fatalf("frame = %+v, want an error event with code %s", env, tt.code)
			}
		})
	}

	// Shutdown reaches coder as a 1001 close frame.
	shutdown := make(chan error, 1)
	go func() { shutdown <- hub.Shutdown(ctx) }()
	gorilla.ExpectClose(core.CloseGoingAway)
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue // frames queued before the close
		}
		if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
			t.Fatalf("coder/websocket read ended with %v (status %d), want 1001", err, got)
		}
		break
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("hub.Shutdown: %v", err)
	}
}
