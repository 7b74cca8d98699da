package core

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Stream names. A stream is an ordered, bounded history of the event
// messages sent to one target: a room, everyone, or one connection. Stores
// and the wire use these names, but for a connection's own stream, which the
// wire calls just "conn".
const (
	// StreamAll is the stream of broadcasts (Hub.Broadcast, Conn.Broadcast).
	StreamAll = "all"
	// roomStreamPrefix starts a room's stream name: "room:<name>".
	roomStreamPrefix = "room:"
	// connStreamPrefix starts a connection's stream name server-side:
	// "conn:<connection ID>".
	connStreamPrefix = "conn:"
	// wireConnStream is a connection's own stream as the client names it.
	wireConnStream = "conn"
)

// RoomStream returns the name of a room's stream, "room:<name>".
func RoomStream(room string) string { return roomStreamPrefix + room }

// ConnStream returns the server-side name of the stream of messages sent to
// one connection, "conn:<id>"; clients call it "conn".
func ConnStream(connID string) string { return connStreamPrefix + connID }

// WireStream returns the name a client uses for a server-side stream name:
// "conn" for every connection stream, the name itself otherwise.
func WireStream(stream string) string {
	if strings.HasPrefix(stream, connStreamPrefix) {
		return wireConnStream
	}
	return stream
}

// Position is a place in a stream: the epoch of its history (which changes
// when the store loses the stream's data) and the offset of the last message
// appended (1 for the first; 0 for a stream that holds none yet). On the wire
// it reads "<epoch>:<offset>".
type Position struct {
	Epoch  string
	Offset uint64
}

// String returns the wire form "<epoch>:<offset>".
func (p Position) String() string { return p.Epoch + ":" + strconv.FormatUint(p.Offset, 10) }

// ErrBadPosition is returned by ParsePosition for text that is not
// "<epoch>:<offset>".
var ErrBadPosition = errors.New("rushws: malformed stream position")

// ParsePosition parses the wire form "<epoch>:<offset>": an epoch of 1 to 32
// bytes of [A-Za-z0-9_-] and a decimal uint64.
func ParsePosition(s string) (Position, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || !ValidEpoch(s[:i]) || i+1 == len(s) || len(s)-i-1 > 20 {
		return Position{}, ErrBadPosition
	}
	for _, b := range []byte(s[i+1:]) {
		if b < '0' || b > '9' {
			return Position{}, ErrBadPosition
		}
	}
	off, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return Position{}, ErrBadPosition
	}
	return Position{Epoch: s[:i], Offset: off}, nil
}

// ValidEpoch reports whether e can be an epoch: 1 to 32 bytes of
// [A-Za-z0-9_-].
func ValidEpoch(e string) bool {
	if len(e) == 0 || len(e) > 32 {
		return false
	}
	for i := 0; i < len(e); i++ {
		b := e[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// KeptMessage is one event message on its way into histories and out to
// the connections it targets.
type KeptMessage struct {
	// Hub is the ID of the hub that sent it.
	Hub string
	// Streams names the streams it is appended to, which are also its
	// target: StreamAll, room streams, or one connection stream.
	Streams []string
	// Except and ExceptRooms leave connections out, as Target's
	// exclusions do; a replay skips them in the same way.
	Except      []string
	ExceptRooms []string
	// Data is the event envelope. Once kept it carries the top-level "pos"
	// object with the positions it was appended at.
	Data []byte
	// Kept reports whether Data was appended (and carries "pos"). A store
	// that could not append delivers the message to its own hub with Kept
	// false, and the hub counts it.
	Kept bool
}

// HistoryEntry is one message of a stream's history.
type HistoryEntry struct {
	// Offset is its offset in the stream.
	Offset uint64
	// Seq orders entries across streams: a store-wide counter of appends,
	// the same for every stream one message was appended to.
	Seq uint64
	// Time is when it was appended.
	Time time.Time
	// Except and ExceptRooms are the exclusions it was sent with.
	Except      []string
	ExceptRooms []string
	// Data is the message as delivered, "pos" included.
	Data []byte
}

// StreamState describes a stream's history.
type StreamState struct {
	// Top is the stream's current position.
	Top Position
	// Oldest is the offset of the oldest message still held (and younger
	// than the history's age bound), 0 when none is.
	Oldest uint64
}

// HistoryOptions bound every stream's history; the hub passes them to
// RecoveryStore.StartRecovery.
type HistoryOptions struct {
	// Size is the most messages a stream keeps.
	Size int
	// TTL is the age past which a message is no longer kept.
	TTL time.Duration
	// SessionTTL is how long a session record is kept after its deadline
	// was last pushed back: past its deadline it is reported expired, past
	// SessionTTL unknown.
	SessionTTL time.Duration
}

// SessionRecord is what a store keeps of a session.
type SessionRecord struct {
	// TokenHash is the hex SHA-256 of the session token: the token itself
	// is never stored.
	TokenHash string `json:"-"`
	// Identity is whom the session belongs to ("" for none).
	Identity string `json:"-"`
	// Deadline is when the session stops being recoverable.
	Deadline time.Time `json:"-"`
	// ConnID is the connection ID the session restores.
	ConnID string `json:"id"`
	// Hub is the ID of the hub holding the session's live connection, and
	// Live whether that connection was open when last saved.
	Hub  string `json:"hub"`
	Live bool   `json:"live,omitempty"`
	// Rooms are the connection's rooms.
	Rooms []string `json:"rooms,omitempty"`
	// Since is when the connection (the latest to hold the session)
	// connected: a room whose join position was not recorded yet is
	// replayed from the messages appended since then.
	Since time.Time `json:"since,omitzero"`
	// Positions are the positions from which the connection's streams are
	// to be replayed when the client knows none later: those issued at
	// connect, and each room's at join. Keys are server-side stream names.
	Positions map[string]string `json:"pos,omitempty"`
	// Meta holds the JSON-encodable metadata values.
	Meta map[string]json.RawMessage `json:"meta,omitempty"`
}

// Errors of a RecoveryStore's TakeSession.
var (
	// ErrSessionNotFound: no session has the token's hash.
	ErrSessionNotFound = errors.New("rushws: session not found")
	// ErrSessionForbidden: the session belongs to another identity; it is
	// left in place.
	ErrSessionForbidden = errors.New("rushws: session belongs to another identity")
)

// RecoveryStore keeps what connection state recovery needs: a bounded
// history per stream, with positions, and sessions with expiry. The hub
// uses NewMemoryStore without a broker; package redisbroker's Broker is one
// for hubs that share Redis. Implementations must be safe for concurrent
// use. Append must return within its own short deadline, as
// Broker.Publish: it is called on read goroutines. The other methods are
// called on handshake goroutines and the hub's session goroutine, with a
// context that bounds them.
type RecoveryStore interface {
	// StartRecovery links the store to a hub, once, from NewHub. deliver
	// must be called, in append order per stream, for every message
	// appended by any hub linked to the store (this one included), and by
	// the sending hub alone, with Kept false, for a message that could not
	// be appended.
	StartRecovery(hubID string, opts HistoryOptions, deliver func(KeptMessage)) error
	// Append appends m.Data to m.Streams' histories, atomically, adding the
	// "pos" object, and hands it to deliver.
	Append(ctx context.Context, m KeptMessage) error
	// Streams returns the state of the named streams, creating (with a new
	// epoch) those the store does not know.
	Streams(ctx context.Context, streams []string) (map[string]StreamState, error)
	// History returns the messages of stream with an offset above after,
	// oldest first, at most limit of them (the newest ones), and the
	// stream's state at the time of the read.
	History(ctx context.Context, stream string, after uint64, limit int) ([]HistoryEntry, StreamState, error)
	// SaveSession stores s under s.TokenHash until s.Deadline plus the
	// session TTL. Unless create, it only updates a session that exists.
	SaveSession(ctx context.Context, s SessionRecord, create bool) error
	// TouchSessions pushes back the deadline of the sessions that exist.
	TouchSessions(ctx context.Context, tokenHashes []string, deadline time.Time) error
	// TakeSession removes and returns the session with the given token
	// hash, when its identity is "" or identity: ErrSessionForbidden
	// otherwise (and the session stays), ErrSessionNotFound when there is
	// none.
	TakeSession(ctx context.Context, tokenHash, identity string) (SessionRecord, error)
}
