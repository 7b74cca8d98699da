package core_test

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
)

// A chat room on plain net/http: the room comes from the URL, "chat" events
// go to everyone in it.
func Example() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws/{room}", hub.Handler(func(c *core.Conn) error {
		room := c.Param("room")
		if err := c.Join(room); err != nil {
			return err
		}
		return c.On("chat", func(c *core.Conn, data json.RawMessage) (any, error) {
			_, err := c.Hub().To(room).Emit("chat", data)
			return nil, err
		})
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer hub.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/lobby", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"chat","data":"hello"}`))
	_, msg, _ := ws.ReadMessage()
	fmt.Println(string(msg))
	// Output: {"event":"chat","data":"hello"}
}

// Handle decodes event data into a type; data of the wrong shape gets a
// bad_request error and the connection stays open.
func ExampleHandle() {
	type move struct {
		X, Y int
	}
	handler := func(c *core.Conn) error {
		return core.Handle(c, "move", func(c *core.Conn, m move) (any, error) {
			if m.X < 0 || m.Y < 0 {
				return nil, core.NewEventError(core.CodeBadRequest, "off the board")
			}
			return map[string]int{"x": m.X, "y": m.Y}, nil // the ack reply
		})
	}
	hub, _ := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(hub.Handler(handler))
	defer srv.Close()
	defer hub.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for _, m := range []string{
		`{"event":"move","data":{"X":1,"Y":2},"ack":1}`,
		`{"event":"move","data":"north","ack":2}`,
		`{"event":"move","data":{"X":-1,"Y":0},"ack":3}`,
	} {
		_ = ws.WriteMessage(websocket.TextMessage, []byte(m))
		_, reply, _ := ws.ReadMessage()
		fmt.Println(string(reply))
	}
	// Output:
	// {"data":{"x":1,"y":2},"ack":1}
	// {"ack":2,"error":{"code":"bad_request","message":"data for \"move\": got JSON string, want object"}}
	// {"ack":3,"error":{"code":"bad_request","message":"off the board"}}
}

// Middleware runs before the upgrade and can refuse the handshake with an
// HTTP status.
func ExampleMiddlewareFunc() {
	requireKey := func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			if c.Request().Header.Get("X-Api-Key") != "secret" {
				return core.NewHTTPError(http.StatusUnauthorized, "missing API key")
			}
			c.Set("client", "trusted")
			return next(c)
		}
	}
	hub, _ := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(hub.Handler(func(c *core.Conn) error { return c.Emit("hello", c.Get("client")) }, requireKey))
	defer srv.Close()
	defer hub.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	_, res, err := websocket.DefaultDialer.Dial(url, nil)
	body, _ := io.ReadAll(res.Body)
	fmt.Println(err, res.StatusCode, strings.TrimSpace(string(body)))

	ws, _, _ := websocket.DefaultDialer.Dial(url, http.Header{"X-Api-Key": {"secret"}})
	defer ws.Close()
	_, msg, _ := ws.ReadMessage()
	fmt.Println(string(msg))
	fmt.Println(hub.Stats().Rejected)
	// Output:
	// websocket: bad handshake 401 {"message":"missing API key","status":401}
	// {"event":"hello","data":"trusted"}
	// map[unauthorized:1]
}

// Shutdown drains queues and closes every connection with 1001; call it
// before http.Server.Shutdown, which does not wait for WebSockets.
func ExampleHub_Shutdown() {
	hub, _ := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: hub.Handler(func(c *core.Conn) error { return nil })}
	// On SIGTERM:
	ctx, cancel := context.WithTimeout(context.Background(), 10e9)
	defer cancel()
	fmt.Println(hub.Shutdown(ctx), srv.Shutdown(ctx))
	// Output: <nil> <nil>
}
