package chat

import "time"

// Limits on what clients send.
const (
	// MaxNameRunes is the longest display name a client may ask for, in
	// runes; a longer one gets a guest name.
	MaxNameRunes = 32
	// MaxTextRunes is the longest chat text, in runes, after trimming; a
	// longer one is refused with core.CodeBadRequest.
	MaxTextRunes = 1000
)

// Presence is the data of the "joined" and "left" events, so that clients
// can show who came or went and how many remain.
type Presence struct {
	Name    string `json:"name"`
	Room    string `json:"room"`
	Members int    `json:"members"`
}

// chatIn is the data of a "chat" event from a client.
type chatIn struct {
	Text string `json:"text"`
}

// Message is the data of a "chat" event relayed to the room. At is set by
// the server, in UTC, so that clients need not trust each other's clocks.
type Message struct {
	Name string    `json:"name"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}
