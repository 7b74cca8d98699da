package wstest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// Emit sends the event envelope {"event":event,"data":data}, the way a
// browser app talks to the server. It fails the test if data cannot be
// encoded or the write fails.
func (c *Client) Emit(event string, data any) {
	c.t.Helper()
	c.writeJSON("Emit", struct {
		Event string `json:"event"`
		Data  any    `json:"data"`
	}{event, data})
}

// EmitWithAck sends an event that asks for a reply, with ack ids counting up
// from 1, and waits for the reply with its id. Frames that arrive first are
// kept for later Expect calls, so a test can check both the reply and what
// the handler broadcast, in any order.
func (c *Client) EmitWithAck(event string, data any) Reply {
	c.t.Helper()
	c.lastAck++
	id := c.lastAck
	c.writeJSON("EmitWithAck", struct {
		Event string `json:"event"`
		Data  any    `json:"data"`
		Ack   uint64 `json:"ack"`
	}{event, data, id})
	f := c.await(fmt.Sprintf("reply to ack %d (event %q)", id, event), func(f *frame) bool { return f.isReply(id) })
	return Reply{Data: f.env.Data, Err: f.env.Error}
}

// Ack answers the server-initiated request with id n (see [Event.Ack]) with
// data, as a browser app answering the server's EmitWithAck would.
func (c *Client) Ack(n uint64, data any) {
	c.t.Helper()
	c.writeJSON("Ack", struct {
		Ack  uint64 `json:"ack"`
		Data any    `json:"data"`
	}{n, data})
}

// AckError answers the server-initiated request with id n with an error, to
// test the server's handling of a client that refuses.
func (c *Client) AckError(n uint64, code, message string) {
	c.t.Helper()
	c.writeJSON("AckError", struct {
		Ack   uint64    `json:"ack"`
		Error ErrorData `json:"error"`
	}{n, ErrorData{Code: code, Message: message}})
}

// Send sends text as a text frame, untouched, for apps with a JSON protocol
// of their own and for malformed-JSON tests.
func (c *Client) Send(text string) {
	c.t.Helper()
	c.write("Send", websocket.TextMessage, []byte(text))
}

// SendBinary sends data as a binary frame.
func (c *Client) SendBinary(data []byte) {
	c.t.Helper()
	c.write("SendBinary", websocket.BinaryMessage, data)
}

// SendRaw sends data as a frame of any type, without checks, so tests can
// send what a well-behaved client never would, such as a text frame that
// is not valid UTF-8.
func (c *Client) SendRaw(messageType int, data []byte) {
	c.t.Helper()
	c.write("SendRaw", messageType, data)
}

func (c *Client) writeJSON(op string, v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("wstest: %s: %v", op, err)
	}
	c.write(op, websocket.TextMessage, b)
}

func (c *Client) write(op string, messageType int, data []byte) {
	c.t.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.timeout))
	if err := c.ws.WriteMessage(messageType, data); err != nil {
		c.t.Fatalf("wstest: %s: %v", op, err)
	}
}
