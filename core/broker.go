package core

import (
	"context"
	"time"
)

// Broker carries messages between hubs on different machines, so a room's
// members are reached whichever hub holds them. A hub with no broker
// (Config.Broker nil) is local and pays nothing for the seam. Package
// redisbroker implements it on Redis pub/sub.
//
// Delivery through a broker is at most once: a message published while the
// broker is disconnected, or before a room's subscription is in place, is
// lost for the other hubs and counted in BrokerStats.
//
// Implementations must be safe for concurrent use. Publish must return
// within its own short deadline whatever the state of the backend: it is
// called on read goroutines.
type Broker interface {
	// Start links the broker to one hub: hubID names the hub (connection IDs
	// of that hub begin with it), and deliver is called, from the broker's
	// own goroutine, for every message another hub published to a room,
	// to everyone, or to a connection of this hub. Start is called once,
	// by NewHub; an error makes NewHub fail.
	Start(hubID string, deliver func(BrokerMessage)) error
	// Publish sends m to the other hubs. It must not block beyond its own
	// deadline (or ctx, whichever ends first); errors are counted by the
	// broker.
	Publish(ctx context.Context, m BrokerMessage) error
	// Subscribe is called when a room gets its first local member and
	// Unsubscribe when its last local member leaves. They must not block;
	// implementations batch them.
	Subscribe(room string)
	Unsubscribe(room string)
	// Stats returns the broker's counters.
	Stats() BrokerStats
	// Close stops the broker's goroutines and unsubscribes. It does not
	// close a client the user passed in. The hub calls it at the end of
	// Shutdown or Close.
	Close() error
}

// BrokerMessage is one message as it travels between hubs: a payload and
// who it is for.
type BrokerMessage struct {
	// Hub is the ID of the hub that published the message; a hub ignores
	// its own.
	Hub string
	// Rooms, All and Conn name the target: the members of Rooms (each
	// connection once), everyone (All), or the one connection Conn.
	Rooms []string
	All   bool
	Conn  string
	// Except lists connection IDs that must not receive the message, and
	// ExceptRooms rooms whose members must not.
	Except      []string
	ExceptRooms []string
	// Binary is true for a binary message, false for text.
	Binary bool
	// Data is the message payload, as the recipients receive it.
	Data []byte
	// CloseCode, when non-zero, makes the message a command rather than a
	// payload: the targeted connections are closed with this code, and
	// Data is the close reason (Target.Close across hubs).
	CloseCode int
}

// BrokerStats are a broker's counters, reported in Stats.Broker.
type BrokerStats struct {
	// Published counts messages published to other hubs.
	Published uint64 `json:"published"`
	// Received counts messages received from other hubs.
	Received uint64 `json:"received"`
	// PublishErrors counts publishes that failed or timed out: those
	// messages reached no other hub.
	PublishErrors uint64 `json:"publishErrors"`
	// Drops counts received messages dropped because the hub's delivery
	// buffer was full.
	Drops uint64 `json:"drops"`
	// Resubscribes counts reconnections after which the subscriptions were
	// restored; messages published during the gap were lost.
	Resubscribes uint64 `json:"resubscribes"`
	// Subscriptions is the number of room channels subscribed now.
	Subscriptions int `json:"subscriptions"`
	// Connected reports whether the broker's subscriber is connected.
	Connected bool `json:"connected"`
	// LastError is the last error the broker met, empty if none, and
	// LastErrorAt when it happened.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
}
