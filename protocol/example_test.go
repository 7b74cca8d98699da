package protocol_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/protocol"
)

// ChatIn is what a client sends with "chat".
type ChatIn struct {
	Text string `json:"text"`
}

// ChatAck is the server's reply to "chat".
type ChatAck struct {
	Delivered int `json:"delivered"`
}

// ChatOut is what the server relays as "said".
type ChatOut struct {
	Text string `json:"text"`
}

// The protocol, declared once: handlers use it, and rushws-ts writes the
// TypeScript for the client from it.
var (
	Chat = protocol.Client[ChatIn, ChatAck]("chat")
	Said = protocol.Server[ChatOut]("said")

	ChatProtocol = protocol.New("chat", Chat, Said)
)

// A room that relays "chat" as "said" and replies with how many got it;
// the Go compiler checks the handler against the declaration.
func Example() {
	hub, _ := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(hub.Handler(func(c *core.Conn) error {
		if err := c.Join("lobby"); err != nil {
			return err
		}
		return Chat.Handle(c, func(c *core.Conn, in ChatIn) (ChatAck, error) {
			n, err := Said.EmitTo(c.Hub().To("lobby"), ChatOut(in))
			return ChatAck{Delivered: n}, err
		})
	}))
	defer srv.Close()
	defer hub.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"chat","data":{"text":"hi"},"ack":1}`))
	for range 2 {
		_, msg, _ := ws.ReadMessage()
		fmt.Println(string(msg))
	}
	// Output:
	// {"event":"said","data":{"text":"hi"}}
	// {"data":{"delivered":1},"ack":1}
}

// A client event without an ack reply uses NoReply; the client gets null
// if it asks for an ack anyway, and the TypeScript says void.
func ExampleNoReply() {
	typing := protocol.Client[bool, protocol.NoReply]("typing")
	seen := protocol.Server[bool]("typing")
	handler := func(c *core.Conn) error {
		return typing.Handle(c, func(c *core.Conn, on bool) (protocol.NoReply, error) {
			_, err := seen.EmitTo(c.Broadcast(), on) // everyone else
			return protocol.NoReply{}, err
		})
	}
	_ = handler
	fmt.Println(typing.Name(), typing.FromClient(), seen.Name(), seen.FromClient())
	// Output: typing true typing false
}

// Encode returns the wire message an event would carry.
func ExampleServerEvent_Encode() {
	b, _ := Said.Encode(ChatOut{Text: "hello"})
	fmt.Println(string(b))
	// Output: {"event":"said","data":{"text":"hello"}}
}
