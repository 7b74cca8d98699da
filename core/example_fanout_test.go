package core_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
)

// fanoutExample starts a hub whose connections join the room named by
// ?room= and returns it with a dial function that also returns the
// connection's ID (sent first, as a "hello" event).
func fanoutExample() (hub *core.Hub, dial func(room string) (*websocket.Conn, string), stop func()) {
	hub, _ = core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(hub.Handler(func(c *core.Conn) error {
		if err := c.Join(c.Request().URL.Query().Get("room")); err != nil {
			return err
		}
		return c.Emit("hello", c.ID())
	}))
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?room="
	dial = func(room string) (*websocket.Conn, string) {
		ws, _, err := websocket.DefaultDialer.Dial(url+room, nil)
		if err != nil {
			panic(err)
		}
		var hello struct{ Data string }
		_ = ws.ReadJSON(&hello)
		return ws, hello.Data
	}
	return hub, dial, func() { _ = hub.Close(); srv.Close() }
}

// Except leaves connections out of a room broadcast; ExceptRooms leaves out
// the members of other rooms.
func ExampleTarget_Except() {
	hub, dial, stop := fanoutExample()
	defer stop()
	alice, aliceID := dial("lobby")
	defer alice.Close()
	bob, _ := dial("lobby")
	defer bob.Close()

	n, _ := hub.To("lobby").Except(hub.Conn(aliceID)).Emit("news", "for everyone but alice")
	_, msg, _ := bob.ReadMessage()
	fmt.Println(n, string(msg))
	// Output: 1 {"event":"news","data":"for everyone but alice"}
}

// Close kicks every member of a room, with a close code and reason the
// clients can read.
func ExampleTarget_Close() {
	hub, dial, stop := fanoutExample()
	defer stop()
	ws, _ := dial("game-42")
	defer ws.Close()

	n, _ := hub.To("game-42").Close(4000, "game over")
	_, _, err := ws.ReadMessage()
	fmt.Println(n, err)
	// Output: 1 websocket: close 4000: game over
}

// EmitWithAck asks every member of a room and collects each one's reply, or
// the context's error for those that did not answer in time.
func ExampleTarget_EmitWithAck() {
	hub, dial, stop := fanoutExample()
	defer stop()
	ws, _ := dial("team")
	defer ws.Close()
	go func() { // the client answers the question
		var q struct{ Ack uint64 }
		_ = ws.ReadJSON(&q)
		_ = ws.WriteJSON(map[string]any{"ack": q.Ack, "data": "ready"})
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	results, _ := hub.To("team").EmitWithAck(ctx, "ready?", nil)
	for _, r := range results {
		fmt.Println(string(r.Data), r.Err)
	}
	// Output: "ready" <nil>
}

// Members lists the connections of a room on this hub, up to a limit.
func ExampleHub_Members() {
	hub, dial, stop := fanoutExample()
	defer stop()
	for range 3 {
		ws, _ := dial("lobby")
		defer ws.Close()
	}
	info, _ := hub.Room("lobby")
	fmt.Println(info.Members, len(hub.Members("lobby", 2)))
	// Output: 3 2
}
