// Package app declares the protocol that e2e/typed/typed.ts uses through
// the TypeScript rushws-ts writes for it: run.sh generates
// e2e/typed/gen/app.d.ts, then tsc checks typed.ts, whose
// @ts-expect-error lines prove that the generated maps catch wrong event
// names, wrong data shapes and wrong ack types.
package app

import (
	"time"

	"github.com/rushws/rushws/protocol"
)

// Mood is a string enum: a union in TypeScript.
type Mood string

// The moods.
const (
	Happy Mood = "happy"
	Sad   Mood = "sad"
)

// Post is what the client sends with "post".
type Post struct {
	Text  string   `json:"text"`
	Mood  Mood     `json:"mood,omitempty"`
	Tags  []string `json:"tags"`
	Reply *int64   `json:"reply_to"`
}

// Posted is the ack reply to "post".
type Posted struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
}

// Entry is a post as the server relays it.
type Entry struct {
	Posted
	Post   `json:"post"`
	Author string         `json:"author"`
	Votes  map[string]int `json:"votes,omitempty"`
	Secret string         `json:"-"`
	Avatar []byte         `json:"avatar"`
}

var (
	PostEvent  = protocol.Client[Post, Posted]("post")
	VoteEvent  = protocol.Client[int64, protocol.NoReply]("vote:up")
	EntryEvent = protocol.Server[Entry]("entry")
	CountEvent = protocol.Server[uint32]("count")

	// Board is the protocol: BoardClientEvents and BoardServerEvents.
	Board = protocol.New("board", PostEvent, VoteEvent, EntryEvent, CountEvent)
)
