package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
)

// dialProtocols dials with the given subprotocols and returns what a
// browser would judge by: the selected protocol, and whether a browser
// accepts the 101 (it fails a connection whose offers were all ignored,
// and one that selects a protocol it did not offer).
func dialProtocols(t *testing.T, url string, protocols ...string) (selected string, browserOK bool) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	selected = resp.Header.Get("Sec-Websocket-Protocol")
	browserOK = len(protocols) == 0 && selected == ""
	for _, p := range protocols {
		if p == selected {
			browserOK = true
		}
	}
	return selected, browserOK
}

func TestSubprotocolNoneSelectedIsLoud(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	sel, ok := dialProtocols(t, s.url("lobby"), "chat.v1", "bearer.SECRET-TOKEN")
	if sel != "" || ok {
		t.Fatalf("selected %q (browser ok %v), want none: the hub lists no protocol", sel, ok)
	}
	eventually(t, "the count", func() bool { return s.hub.Stats().UnnegotiatedSubprotocols == 1 })
	dialProtocols(t, s.url("lobby"), "chat.v1")
	eventually(t, "the second count", func() bool { return s.hub.Stats().UnnegotiatedSubprotocols == 2 })
	logs := s.logs.String()
	if strings.Count(logs, "level=WARN") != 1 || !strings.Contains(logs, "Config.Subprotocols") || !strings.Contains(logs, `bearer.`) {
		t.Errorf("want one warning naming Config.Subprotocols and the bearer entry, got:\n%s", logs)
	}
	if strings.Contains(logs, "SECRET-TOKEN") {
		t.Errorf("log holds an offered subprotocol (it may be a token):\n%s", logs)
	}
}

func TestSetSubprotocol(t *testing.T) {
	t.Parallel()
	choose := func(p string, got chan<- error) core.MiddlewareFunc {
		return func(next core.HandlerFunc) core.HandlerFunc {
			return func(c *core.Conn) error {
				got <- c.SetSubprotocol(p)
				return next(c)
			}
		}
	}
	tests := []struct {
		name     string
		hub      []string
		offer    []string
		choose   string
		err      error
		selected string
	}{
		{"middleware chooses", nil, []string{"chat.v1", "bearer.x"}, "chat.v1", nil, "chat.v1"},
		{"the hub's list wins", []string{"chat.v2"}, []string{"chat.v1", "chat.v2"}, "chat.v1", nil, "chat.v2"},
		{"the hub's list matches none", []string{"chat.v3"}, []string{"chat.v1"}, "chat.v1", nil, "chat.v1"},
		{"not offered", nil, []string{"chat.v1"}, "chat.v9", core.ErrNotOffered, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan error, 1)
			s := newServer(t, core.Config{Subprotocols: tt.hub}, chat, choose(tt.choose, got))
			sel, _ := dialProtocols(t, s.url("lobby"), tt.offer...)
			if err := <-got; !errors.Is(err, tt.err) {
				t.Errorf("SetSubprotocol: %v, want %v", err, tt.err)
			}
			if sel != tt.selected {
				t.Errorf("selected %q, want %q", sel, tt.selected)
			}
		})
	}
}

func TestSetSubprotocolAfterUpgrade(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		got <- c.SetSubprotocol("chat.v1")
		return nil
	})
	dialProtocols(t, s.url("lobby"), "chat.v1")
	if err := <-got; err == nil {
		t.Error("SetSubprotocol after the upgrade succeeded")
	}
}
