package wstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gorilla/websocket"
)

// Expect waits for the event envelope named event and returns its data. The
// frames that arrive first are kept, in order, for later Expect calls, so
// a test need not know how the server interleaves its messages. It fails
// the test, listing what was received instead, when the timeout passes or
// the connection closes first.
func (c *Client) Expect(event string) json.RawMessage {
	c.t.Helper()
	return c.ExpectEvent(event).Data
}

// ExpectInto is [Client.Expect] that decodes the data into v, failing the
// test when it does not decode.
func (c *Client) ExpectInto(event string, v any) {
	c.t.Helper()
	data := c.Expect(event)
	if err := json.Unmarshal(data, v); err != nil {
		c.t.Fatalf("wstest: event %q: decoding data %s: %v", event, data, err)
	}
}

// ExpectEvent is [Client.Expect] that returns the whole event, including
// the ack id of a request from the server that the test must answer with
// [Client.Ack].
func (c *Client) ExpectEvent(event string) Event {
	c.t.Helper()
	f := c.await(fmt.Sprintf("event %q", event), func(f *frame) bool { return f.isEvent(event) })
	return Event{Name: f.env.Event, Data: f.env.Data, Ack: f.env.Ack}
}

// ExpectError waits for the next "error" event and fails the test unless
// its code is code, so a test sees a different error as such rather than
// as a timeout.
func (c *Client) ExpectError(code string) ErrorData {
	c.t.Helper()
	var e ErrorData
	c.ExpectInto("error", &e)
	if e.Code != code {
		c.t.Fatalf("wstest: got error event %q (%s), want code %q", e.Code, e.Message, code)
	}
	return e
}

// ExpectMessage returns the next frame of any kind, kept ones first, for
// raw protocols and binary data. The type is [websocket.TextMessage] or
// [websocket.BinaryMessage].
func (c *Client) ExpectMessage() (messageType int, data []byte) {
	c.t.Helper()
	f := c.await("message", func(*frame) bool { return true })
	return f.typ, f.data
}

// ExpectNoEvent fails the test if the event named event arrives within the
// given window, or was kept from earlier, to check that a message was not
// delivered. Other frames read meanwhile are kept for later Expect calls.
// It returns early, without failing, if the connection closes.
func (c *Client) ExpectNoEvent(event string, within time.Duration) {
	c.t.Helper()
	for i := range c.buf {
		if c.buf[i].isEvent(event) {
			c.t.Fatalf("wstest: got event %q, want none: %s", event, c.buf[i].String())
		}
	}
	deadline := time.Now().Add(within)
	for {
		f, ok := c.read(deadline)
		if !ok || f.err != nil {
			return
		}
		if f.isEvent(event) {
			c.t.Fatalf("wstest: got event %q within %v, want none: %s", event, within, f.String())
		}
		c.buf = append(c.buf, f)
	}
}

// ExpectClose waits until the server closes the connection and returns the
// close reason. It fails the test if the connection is still open at the
// timeout, or closes with another code; a connection that ends without a
// close frame counts as 1006 (abnormal closure). Frames read meanwhile are
// kept, so a test can still check what arrived before the close.
func (c *Client) ExpectClose(code int) string {
	c.t.Helper()
	deadline := time.Now().Add(c.timeout)
	for {
		f, ok := c.read(deadline)
		if !ok {
			c.t.Fatalf("wstest: connection still open after %v, want close %d; received: %s", c.timeout, code, describe(c.buf))
		}
		if f.err == nil {
			c.buf = append(c.buf, f)
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(f.err, &ce) {
			ce = &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: f.err.Error()}
		}
		if ce.Code != code {
			c.t.Fatalf("wstest: connection closed with %d (%q), want %d", ce.Code, ce.Text, code)
		}
		return ce.Text
	}
}

// await returns the first frame, kept or new, that match accepts, within the
// timeout, and keeps every other frame. what names the frame for failures.
func (c *Client) await(what string, match func(*frame) bool) frame {
	c.t.Helper()
	for i := range c.buf {
		if match(&c.buf[i]) {
			f := c.buf[i]
			c.buf = slices.Delete(c.buf, i, i+1)
			return f
		}
	}
	deadline := time.Now().Add(c.timeout)
	for {
		f, ok := c.read(deadline)
		switch {
		case !ok:
			c.t.Fatalf("wstest: no %s within %v; received instead: %s", what, c.timeout, describe(c.buf))
		case f.err != nil:
			c.t.Fatalf("wstest: connection closed (%v) before %s; received instead: %s", f.err, what, describe(c.buf))
		case match(&f):
			return f
		}
		c.buf = append(c.buf, f)
	}
}
