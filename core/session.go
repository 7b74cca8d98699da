package core

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
)

// connSession is a connection's recovery session: set once at the upgrade
// when recovery is on, nil otherwise.
type connSession struct {
	tokenHash string // hex SHA-256 of the token; the token itself is sent once and forgotten
	identity  string
	recovered bool
	reason    string       // why a recovery attempt failed, "" otherwise
	moved     atomic.Bool  // taken over by a recovery: never saved again
	first     *heldMessage // the first message, read before the route handler, when it was not a recover message
	holdNext  *heldMessage // set while readFirstMessage reads: the reader keeps the next message here

	// mu protects the following.
	mu        sync.Mutex
	positions map[string]string // replay-from positions by server stream name (connect and join positions)
	buffering bool              // recovering: kept messages wait in buffered
	buffered  []KeptMessage

	// saveMu serialises the session's saves, so the final one (when the
	// connection ends) is the last.
	saveMu sync.Mutex
	ended  bool // guarded by saveMu: the final record was saved
}

// heldMessage is a message read before the route handler ran.
type heldMessage struct {
	mt   int
	data []byte
}

// tokenBytes is the size of a session token's randomness: 256 bits.
const tokenBytes = 32

// newToken returns a new session token (base64url of 32 random bytes) and
// its hash.
func newToken() (token, hash string) {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

// hashToken returns the hex SHA-256 of a token, the only form stores keep.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// validToken reports whether s has the shape of a session token.
func validToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// recoverRequest is the client's recover message, decoded.
type recoverRequest struct {
	token     string
	positions map[string]Position // by wire stream name
}

// maxRecoverStreams bounds the positions a recover message may carry.
const maxRecoverStreams = 4096

// parseRecover decodes a recover message:
// {"event":"recover","data":{"token":"...","positions":{"<stream>":"<pos>"}}}.
// isRecover reports whether the message was a recover event at all; ok
// whether it was a well-formed one. Malformed positions make it malformed.
func parseRecover(data []byte) (req recoverRequest, isRecover, ok bool) {
	var env struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if json.Unmarshal(data, &env) != nil || env.Event != "recover" {
		return req, false, false
	}
	var d struct {
		Token     string            `json:"token"`
		Positions map[string]string `json:"positions"`
	}
	if json.Unmarshal(env.Data, &d) != nil || !validToken(d.Token) || len(d.Positions) > maxRecoverStreams {
		return req, true, false
	}
	req.token = d.Token
	req.positions = make(map[string]Position, len(d.Positions))
	for name, s := range d.Positions {
		p, err := ParsePosition(s)
		if err != nil || !validWireStream(name) {
			return recoverRequest{}, true, false
		}
		req.positions[name] = p
	}
	return req, true, true
}

// validWireStream reports whether a client's stream name is one a client
// may hold: "conn", "all" or "room:<valid room name>".
func validWireStream(name string) bool {
	switch {
	case name == wireConnStream, name == StreamAll:
		return true
	case len(name) > len(roomStreamPrefix) && name[:len(roomStreamPrefix)] == roomStreamPrefix:
		return ValidRoomName(name[len(roomStreamPrefix):])
	}
	return false
}

// appendPos returns data, an event envelope ending in '}', with the
// top-level "pos" object naming the position of each stream added before
// the final brace: {"event":...,"data":...,"pos":{"room:a":"E:1"}}.
func appendPos(data []byte, streams []string, pos []Position) []byte {
	out := make([]byte, 0, len(data)+16+32*len(streams))
	out = append(out, data[:len(data)-1]...)
	out = append(out, `,"pos":{`...)
	for i, s := range streams {
		if i > 0 {
			out = append(out, ',')
		}
		name, _ := json.Marshal(WireStream(s))
		out = append(out, name...)
		out = append(out, `:"`...)
		out = append(out, pos[i].Epoch...)
		out = append(out, ':')
		out = strconv.AppendUint(out, pos[i].Offset, 10)
		out = append(out, '"')
	}
	return append(out, "}}"...)
}

// posMarker starts the "pos" object appendPos adds.
var posMarker = []byte(`,"pos":{`)

// parsePos reads the "pos" object that appendPos added to a kept message,
// by wire stream name; ok is false when data carries none or it is
// malformed.
func parsePos(data []byte) (map[string]Position, bool) {
	i := bytes.LastIndex(data, posMarker)
	if i < 0 || len(data) < 2 || data[len(data)-1] != '}' {
		return nil, false
	}
	var raw map[string]string
	if json.Unmarshal(data[i+len(posMarker)-1:len(data)-1], &raw) != nil {
		return nil, false
	}
	out := make(map[string]Position, len(raw))
	for k, v := range raw {
		p, err := ParsePosition(v)
		if err != nil {
			return nil, false
		}
		out[k] = p
	}
	return out, true
}
