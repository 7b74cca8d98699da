package wstest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// echo is a minimal server for the wire protocol: it sends every event back
// and answers every ack request with the event's data.
func echo(w http.ResponseWriter, r *http.Request) {
	var up websocket.Upgrader
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		var m struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
			Ack   uint64          `json:"ack,omitempty"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			return
		}
		ack := m.Ack
		m.Ack = 0
		_ = conn.WriteJSON(m)
		if ack != 0 {
			_ = conn.WriteJSON(map[string]any{"ack": ack, "data": m.Data})
		}
	}
}

// In a test, wstest.DialHandler(t, handler, "/ws") dials and fails t on any
// error; outside one, TryDial returns a Client that panics instead.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()

	c, _, err := wstest.TryDial(context.Background(), srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	c.Emit("chat", map[string]string{"text": "hello"})
	fmt.Println(string(c.Expect("chat")))

	reply := c.EmitWithAck("ping", 42)
	fmt.Println(string(reply.Data), reply.Err)
	fmt.Println(string(c.Expect("ping"))) // the echo that came before the reply was kept
	// Output:
	// {"text":"hello"}
	// 42 <nil>
	// 42
}

// A refused handshake returns the server's response, body included.
func ExampleTryDial() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"code":"forbidden","message":"origin not allowed"}`, http.StatusForbidden)
	}))
	defer srv.Close()

	_, resp, err := wstest.TryDial(context.Background(), srv.URL, wstest.WithOrigin("https://evil.example"))
	fmt.Println(err != nil, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output:
	// true 403
	// {"code":"forbidden","message":"origin not allowed"}
}

// A LogBuffer catches what the hub logs, so a test can assert that a
// refusal was logged, or that nothing was logged at error level.
func ExampleLogBuffer() {
	var logs wstest.LogBuffer
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		panic(err)
	}
	defer func() { _ = hub.Close() }()
	req := httptest.NewRequest(http.MethodGet, "/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Origin", "https://evil.example")
	rec := httptest.NewRecorder()
	hub.Handler(func(*core.Conn) error { return nil }).ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.Contains(logs.String(), "origin refused"))
	// Output:
	// 403 true
}
