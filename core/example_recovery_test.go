package core_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
)

// Connection state recovery: a client that loses its connection reconnects
// with rushws_recover=1 and its session, and gets back its ID, rooms and
// the messages it missed before anything new; the route handler knows not
// to join again. A browser gets this from the JS client; here a Go client
// speaks the protocol by hand.
func ExampleRecoveryConfig() {
	hub, err := core.NewHub(core.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Recovery: core.RecoveryConfig{
			Enabled: true,
			Window:  time.Minute,
			OnRecover: func(c *core.Conn, ok bool, reason string) {
				fmt.Printf("recovery ok=%v reason=%q\n", ok, reason)
			},
		},
	})
	if err != nil {
		panic(err)
	}
	defer hub.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /ws/{room}", hub.Handler(func(c *core.Conn) error {
		if c.Recovered() {
			return nil // its rooms are back already
		}
		return c.Join(c.Param("room"))
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/lobby"

	type session struct {
		ID        string            `json:"id"`
		Token     string            `json:"token"`
		Recovered bool              `json:"recovered"`
		Missed    int               `json:"missed"`
		Positions map[string]string `json:"positions"`
	}
	var first struct{ Data session }
	ws, _, _ := websocket.DefaultDialer.Dial(url, nil)
	_ = ws.ReadJSON(&first) // the session message comes first
	for hub.Len() == 0 || len(hub.Members("lobby", 0)) == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = ws.NetConn().Close() // the network drops: no close frame

	hub.To("lobby").Emit("chat", "sent while away")

	ws, _, _ = websocket.DefaultDialer.Dial(url+"?rushws_recover=1", nil)
	defer ws.Close()
	recoverMsg, _ := json.Marshal(map[string]any{"event": "recover", "data": map[string]any{
		"token": first.Data.Token, "positions": first.Data.Positions,
	}})
	_ = ws.WriteMessage(websocket.TextMessage, recoverMsg)
	var again struct{ Data session }
	_ = ws.ReadJSON(&again)
	fmt.Println("same ID:", again.Data.ID == first.Data.ID, "recovered:", again.Data.Recovered, "missed:", again.Data.Missed)
	var missed struct {
		Event string
		Data  string
	}
	_ = ws.ReadJSON(&missed)
	fmt.Println(missed.Event, missed.Data)
	// Output:
	// recovery ok=true reason=""
	// same ID: true recovered: true missed: 1
	// chat sent while away
}
