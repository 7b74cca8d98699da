// Package recoverytest is a WebSocket client that speaks rushws's recovery
// protocol (session message, recover message, "pos"), for the tests of core
// and redisbroker. It is built on gorilla's Dialer, as any Go client would
// be, and keeps its session the way the JS client does.
package recoverytest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Session is the data of a session message.
type Session struct {
	ID        string            `json:"id"`
	Token     string            `json:"token"`
	Recovered bool              `json:"recovered"`
	Reason    string            `json:"reason"`
	Missed    int               `json:"missed"`
	Positions map[string]string `json:"positions"`
}

// Msg is one event message received.
type Msg struct {
	Event string            `json:"event"`
	Data  json.RawMessage   `json:"data"`
	Pos   map[string]string `json:"pos"`
	Raw   []byte            `json:"-"`
}

// Client is one connection and the session it holds.
type Client struct {
	WS        *websocket.Conn
	URL       string
	Header    http.Header
	Session   Session
	Token     string
	Positions map[string]string
}

// Timeout bounds every read.
const Timeout = 5 * time.Second

// Dial opens a connection to url (ws://...) and reads its session message.
func Dial(t testing.TB, url string, header http.Header) *Client {
	t.Helper()
	c := &Client{URL: url, Header: header}
	c.dial(t, url, nil)
	return c
}

func (c *Client) dial(t testing.TB, url string, first []byte) {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(url, c.Header)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	t.Cleanup(func() { _ = ws.Close() })
	c.WS = ws
	if first != nil {
		if err := ws.WriteMessage(websocket.TextMessage, first); err != nil {
			t.Fatalf("sending the recover message: %v", err)
		}
	}
	m := c.Next(t)
	if m.Event != "session" {
		t.Fatalf("first message is %q, want the session message", m.Raw)
	}
	if err := json.Unmarshal(m.Data, &c.Session); err != nil {
		t.Fatalf("session message %s: %v", m.Raw, err)
	}
	c.Token = c.Session.Token
	c.Positions = make(map[string]string)
	for k, v := range c.Session.Positions {
		c.Positions[k] = v
	}
}

// Recover opens a new connection to url (the same server or another) that
// presents c's session and positions, and returns it, its session message
// read.
func (c *Client) Recover(t testing.TB, url string) *Client {
	t.Helper()
	return c.RecoverWith(t, url, c.Token, c.Header)
}

// RecoverWith is Recover with the given token and handshake headers.
func (c *Client) RecoverWith(t testing.TB, url, token string, header http.Header) *Client {
	t.Helper()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	msg, _ := json.Marshal(map[string]any{"event": "recover", "data": map[string]any{"token": token, "positions": c.Positions}})
	n := &Client{URL: url, Header: header}
	n.dial(t, url+sep+"rushws_recover=1", msg)
	return n
}

// Next reads the next text message and updates the positions from its
// "pos".
func (c *Client) Next(t testing.TB) Msg {
	t.Helper()
	_ = c.WS.SetReadDeadline(time.Now().Add(Timeout))
	_, b, err := c.WS.ReadMessage()
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	var m Msg
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message %q: %v", b, err)
	}
	m.Raw = b
	for k, v := range m.Pos {
		if c.Positions != nil {
			c.Positions[k] = v
		}
	}
	return m
}

// Expect reads the next message and fails unless it is the named event.
func (c *Client) Expect(t testing.TB, event string) Msg {
	t.Helper()
	m := c.Next(t)
	if m.Event != event {
		t.Fatalf("got %s, want event %q", m.Raw, event)
	}
	return m
}

// ExpectNothing fails if a message arrives within d.
func (c *Client) ExpectNothing(t testing.TB, d time.Duration) {
	t.Helper()
	_ = c.WS.SetReadDeadline(time.Now().Add(d))
	_, b, err := c.WS.ReadMessage()
	if err == nil {
		t.Fatalf("unexpected message %s", b)
	}
}

// Drop closes the TCP connection without a close frame, as a lost network
// does.
func (c *Client) Drop() { _ = c.WS.NetConn().Close() }

// Emit sends an event message.
func (c *Client) Emit(t testing.TB, event string, data any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"event": event, "data": data})
	if err := c.WS.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("emit: %v", err)
	}
}
