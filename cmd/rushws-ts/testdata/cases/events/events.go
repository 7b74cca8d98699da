// Package events: protocols with client and server events, acks, odd names
// and clashing type names.
package events

import (
	"github.com/rushws/rushws/cmd/rushws-ts/testdata/cases/events/other"
	"github.com/rushws/rushws/protocol"
)

// ChatIn is what the client sends.
type ChatIn struct {
	Text string `json:"text"`
}

// ChatAck is the server's reply.
type ChatAck struct {
	OK bool `json:"ok"`
}

// Message is the relayed chat.
type Message struct {
	Text string `json:"text"`
	From string `json:"from"`
}

// Record clashes with TypeScript's own Record.
type Record struct {
	N int `json:"n"`
}

var (
	Chat   = protocol.Client[ChatIn, ChatAck]("chat")
	Typing = protocol.Client[bool, protocol.NoReply]("typing")
	Said   = protocol.Server[Message]("chat") // same name, other direction
	Other  = protocol.Server[other.Message]("other")

	// Chat is the main protocol.
	ChatProtocol = protocol.New("chat", Chat, Typing, Said, Other,
		protocol.Client[string, []string]("room:join"),
		protocol.Server[Record]("record-kept"),
	)

	// Admin is a second protocol in the same package.
	Admin = protocol.New("admin", protocol.Client[struct{}, int]("count"))

	notAProtocol = protocol.Server[int]("unused")
)

const name = "late"

var Late = protocol.New(name, (protocol.Server[int](name + "r")))
