package adaptertest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// SameOrigin, as the value of an Origin header in Front.Header, stands for
// the test server's own origin, which is known only once it runs.
const SameOrigin = "SAME-ORIGIN"

// Front is one of the framework's own middlewares in front of a WebSocket
// route, for RunFront: each must let the handshake through, see the 101,
// and write nothing into the hijacked connection.
type Front struct {
	// Name names the subtest. Required.
	Name string
	// Mount returns a router of the framework with the middleware
	// installed, logging into mwLog, and the route "/ws/:room" serving
	// hub with Chat, mounted with the adapter; and the framework's own
	// log. Required.
	Mount func(t *testing.T, hub *core.Hub, mwLog io.Writer) (http.Handler, *wstest.LogBuffer)
	// Header is sent with the handshake (an Origin of SameOrigin is
	// replaced with the server's). Optional.
	Header http.Header
	// Lowercase sends "Connection: upgrade" in lower case, as nginx's
	// usual WebSocket proxy configuration does. Optional.
	Lowercase bool
	// AfterWelcome runs once the connection is open, before the chat
	// exchange (to wait for a request deadline to pass, say). Optional.
	AfterWelcome func(t *testing.T)
	// Check inspects the 101 response and the middleware's log once the
	// server's handlers have returned. Optional.
	Check func(t *testing.T, resp *http.Response, mwLog string)
	// Refused, when set, is a request the middleware must refuse before
	// the hub sees it. Optional.
	Refused *Refusal
}

// Refusal is a request a Front middleware refuses, and how.
type Refusal struct {
	// Header is sent with the handshake.
	Header http.Header
	// Status is the status the middleware answers with.
	Status int
	// Message is part of the body it answers with.
	Message string
}

// RunFront runs each of fronts as a parallel subtest: a connection through
// the middleware says hello, chats and closes; the middleware's refusal,
// if any, is answered by the framework and never counted by the hub; no
// log mentions a hijacked connection or a panic.
func RunFront(t *testing.T, fronts []Front) {
	t.Helper()
	for _, f := range fronts {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			hub, _ := NewHub(t, core.Config{})
			mwLog := &wstest.LogBuffer{}
			router, fwLog := f.Mount(t, hub, mwLog)
			srv, errLog := StartServer(t, router)

			h := http.Header{}
			for k, vs := range f.Header {
				h[k] = vs
			}
			if h.Get("Origin") == SameOrigin {
				h.Set("Origin", srv.URL)
			}
			d := websocket.DefaultDialer
			if f.Lowercase {
				d = lowercaseDialer()
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			ws, resp, err := d.DialContext(ctx, WSURL(srv, "/ws/lobby"), h)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { _ = ws.Close() })
			ExpectEvent(t, ws, "welcome", nil)
			if f.AfterWelcome != nil {
				f.AfterWelcome(t)
			}
			Exchange(t, ws)
			CloseClient(ws)
			WaitNoConnections(t, hub)

			if r := f.Refused; r != nil {
				_, resp, err := tryDial(WSURL(srv, "/ws/lobby"), r.Header)
				if err == nil || resp == nil {
					t.Fatalf("dial: err %v, want refused by the middleware", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != r.Status || !strings.Contains(string(body), r.Message) {
					t.Errorf("refused dial: status %d body %s, want %d %q", resp.StatusCode, body, r.Status, r.Message)
				}
				if st := hub.Stats(); len(st.Rejected) != 0 || st.Accepted != 1 {
					t.Errorf("Stats after a refusal by the framework's middleware: rejected %v accepted %d, want none and 1", st.Rejected, st.Accepted)
				}
			}
			errLog.WaitIdle(t) // access logs are written when the handler returns
			if f.Check != nil {
				f.Check(t, resp, mwLog.String())
			}
			if s := mwLog.String(); strings.Contains(s, "panic") {
				t.Errorf("middleware logged a panic:\n%s", s)
			}
			others := map[string]*wstest.LogBuffer{"middleware log": mwLog}
			if fwLog != nil {
				others["framework log"] = fwLog
			}
			NoHijackNoise(t, errLog, others)
		})
	}
}

// lowercaseUpgrade rewrites the client's "Connection: Upgrade" to the
// equally valid "Connection: upgrade" (header values are case-insensitive),
// as nginx's usual WebSocket proxy configuration sends it.
type lowercaseUpgrade struct {
	net.Conn
	once sync.Once
}

func (c *lowercaseUpgrade) Write(p []byte) (int, error) {
	n := len(p)
	c.once.Do(func() {
		p = bytes.Replace(p, []byte("Connection: Upgrade\r\n"), []byte("Connection: upgrade\r\n"), 1)
	})
	if _, err := c.Conn.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// lowercaseDialer dials through lowercaseUpgrade.
func lowercaseDialer() *websocket.Dialer {
	return &websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &lowercaseUpgrade{Conn: c}, nil
		},
	}
}
