package wstest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gorilla/websocket"
)

// Event is an event envelope received from the server. Tests that need more
// than the data, such as the ack id of a server-initiated request, get it
// from [Client.ExpectEvent].
type Event struct {
	// Name is the event name, such as "chat".
	Name string
	// Data is the raw JSON of the "data" field; nil when the field is absent.
	Data json.RawMessage
	// Ack is non-zero when the server asks for a reply, which the test gives
	// with [Client.Ack] or [Client.AckError].
	Ack uint64
}

// Reply is the server's answer to [Client.EmitWithAck]: either Data or Err,
// so a test can assert both the success and the error path of a handler.
type Reply struct {
	// Data is the raw JSON of the reply's "data" field.
	Data json.RawMessage
	// Err is the reply's "error" field, or nil when the handler succeeded.
	Err *ErrorData
}

// ErrorData is the payload of an "error" event and of an error reply, with
// the code tests should assert on rather than the human-readable message.
type ErrorData struct {
	// Code is one of bad_request, unknown_event, forbidden, rate_limited,
	// too_large or internal.
	Code string `json:"code"`
	// Message explains the error to a person.
	Message string `json:"message"`
}

// envelope is the union of every message shape the wire protocol has.
type envelope struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	Ack   uint64          `json:"ack"`
	Error *ErrorData      `json:"error"`
}

// frame is one message read from the connection, or the error that ended it.
type frame struct {
	typ   int
	data  []byte
	err   error
	env   envelope
	isEnv bool // data is a text frame holding a JSON object of the protocol's shape
}

func newFrame(typ int, data []byte, err error) frame {
	f := frame{typ: typ, data: data, err: err}
	if err == nil && typ == websocket.TextMessage {
		f.isEnv = json.Unmarshal(data, &f.env) == nil
	}
	return f
}

// isEvent reports whether f is an event envelope named name.
func (f *frame) isEvent(name string) bool {
	return f.isEnv && f.env.Event != "" && f.env.Event == name
}

// isReply reports whether f answers the ack request with id n.
func (f *frame) isReply(n uint64) bool {
	return f.isEnv && f.env.Event == "" && f.env.Ack == n
}

// String renders f for failure messages, shortened so a flood stays legible.
func (f *frame) String() string {
	const limit = 200
	var s string
	switch f.typ {
	case websocket.TextMessage:
		s = fmt.Sprintf("text %q", f.data)
	case websocket.BinaryMessage:
		s = fmt.Sprintf("binary(%d bytes) %x", len(f.data), f.data)
	default:
		s = fmt.Sprintf("type %d %q", f.typ, f.data)
	}
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

// describe renders frames for failure messages.
func describe(frames []frame) string {
	const limit = 10
	if len(frames) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i := range frames {
		if i == limit {
			fmt.Fprintf(&b, "\n\t… and %d more", len(frames)-limit)
			break
		}
		b.WriteString("\n\t")
		b.WriteString(frames[i].String())
	}
	return b.String()
}
