package chat_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/examples/internal/chat"
)

// The chat on plain net/http: the room comes from the route's {room}
// wildcard, and joining is announced to the room.
func ExampleHandle() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws/{room}", hub.Handler(chat.Handle, chat.ValidRoom))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer hub.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/lobby?name=alice", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_, msg, _ := ws.ReadMessage()
	fmt.Println(string(msg))
	// Output: {"event":"joined","data":{"name":"alice","room":"lobby","members":1}}
}
