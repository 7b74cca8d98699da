package main

import (
	"time"

	"github.com/rushws/rushws/protocol"
)

// The demo's protocol, declared once: chat.go registers its handlers from
// these declarations (the Go compiler checks them), and rushws-ts writes
// static/protocol.d.ts from them for the page (go generate ./examples/demo;
// a test fails when the file is out of date).
//
//go:generate go run ../../cmd/rushws-ts -o static/protocol.d.ts .

// JoinIn is the data of "join".
type JoinIn struct {
	// Room is 1 to 32 printable characters.
	Room string `json:"room"`
}

// JoinAck is the reply to "join": the room and its members' names.
type JoinAck struct {
	Room    string   `json:"room"`
	Members []string `json:"members"`
}

// ChatIn is the data of a "chat" the page sends.
type ChatIn struct {
	// Text is 1 to 500 characters.
	Text string `json:"text"`
}

// ChatAck is the reply to "chat".
type ChatAck struct {
	OK bool `json:"ok"`
}

// TypingIn is the data of a "typing" the page sends.
type TypingIn struct {
	Typing bool `json:"typing"`
}

// Hello is emitted to each connection first: who the server thinks it is.
type Hello struct {
	ID string `json:"id"`
	// Name is left out for anonymous connections.
	Name string `json:"name,omitempty"`
}

// Presence is the data of "joined" and "left".
type Presence struct {
	Name    string `json:"name"`
	Room    string `json:"room"`
	Members int    `json:"members"`
}

// Message is a chat line relayed to the room.
type Message struct {
	Name string    `json:"name"`
	Room string    `json:"room"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// Typing is a typing indicator relayed to the others in the room.
type Typing struct {
	Name   string `json:"name"`
	Room   string `json:"room"`
	Typing bool   `json:"typing"`
}

// The events. Client events first: what the page sends, with the server's
// ack reply.
var (
	// EchoEvent is answered with its data, for anyone.
	EchoEvent = protocol.Client[string, string]("echo")
	// JoinEvent moves a signed-in user to a room (one at a time).
	JoinEvent = protocol.Client[JoinIn, JoinAck]("join")
	// ChatEvent says something to the room.
	ChatEvent = protocol.Client[ChatIn, ChatAck]("chat")
	// TypingEvent starts or stops the typing indicator.
	TypingEvent = protocol.Client[TypingIn, protocol.NoReply]("typing")

	// HelloEvent greets a new connection.
	HelloEvent = protocol.Server[Hello]("hello")
	// JoinedEvent and LeftEvent announce room changes.
	JoinedEvent = protocol.Server[Presence]("joined")
	LeftEvent   = protocol.Server[Presence]("left")
	// SaidEvent relays a chat line (the same name as the client's "chat").
	SaidEvent = protocol.Server[Message]("chat")
	// TypingShownEvent relays a typing indicator.
	TypingShownEvent = protocol.Server[Typing]("typing")

	// Demo gathers them; rushws-ts names the TypeScript maps after it:
	// DemoClientEvents and DemoServerEvents.
	Demo = protocol.New("demo",
		EchoEvent, JoinEvent, ChatEvent, TypingEvent,
		HelloEvent, JoinedEvent, LeftEvent, SaidEvent, TypingShownEvent,
	)
)
