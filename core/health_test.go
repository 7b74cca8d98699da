package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// probe GETs (or HEADs) a health handler of s's hub and decodes the body.
func probe(t *testing.T, h http.Handler, method string) (int, core.Health, string) {
	t.Helper()
	status, header, body := rawRequest(t, method, newHTTPServer(t, h), nil)
	if ct := header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var hl core.Health
	if body != "" {
		if err := json.Unmarshal([]byte(body), &hl); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
	}
	return status, hl, body
}

// TestHealthShutdown follows the probes through a shutdown with a client
// connected: ready until Shutdown begins, then 503; live until the hub has
// closed.
func TestHealthShutdown(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	live, ready := core.LiveHandler(s.hub), core.ReadyHandler(s.hub)
	c := wstest.Dial(t, s.url("lobby"))
	roundTrip(t, c)

	for name, h := range map[string]http.Handler{"live": live, "ready": ready} {
		status, hl, body := probe(t, h, http.MethodGet)
		if status != http.StatusOK || hl.State != core.StateServing || hl.Connections != 1 || hl.Healthy != 1 || hl.Unhealthy != 0 {
			t.Fatalf("%s while serving: %d %s", name, status, body)
		}
	}

	// The client does not read yet, so the hub waits for its close reply.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.hub.Shutdown(ctx) }()
	eventually(t, "readiness to fail", func() bool {
		status, _, _ := probe(t, ready, http.MethodGet)
		return status == http.StatusServiceUnavailable
	})
	status, hl, body := probe(t, live, http.MethodGet)
	if status != http.StatusOK || hl.State != core.StateShuttingDown || hl.Connections != 1 {
		t.Errorf("live while draining: %d %s, want 200 shutting_down with the client", status, body)
	}
	status, hl, body = probe(t, ready, http.MethodGet)
	if status != http.StatusServiceUnavailable || hl.State != core.StateShuttingDown {
		t.Errorf("ready while draining: %d %s, want 503 shutting_down", status, body)
	}

	c.ExpectClose(core.CloseGoingAway) // reading answers the close frame
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for name, h := range map[string]http.Handler{"live": live, "ready": ready} {
		status, hl, body := probe(t, h, http.MethodGet)
		if status != http.StatusServiceUnavailable || hl.State != core.StateClosed || hl.Connections != 0 {
			t.Errorf("%s after Shutdown: %d %s, want 503 closed", name, status, body)
		}
	}
}

// TestHealthQuietPeers: with heartbeats off, silence says nothing about a
// peer, so quiet connections stay healthy past the pong timeout; the counts
// add up to the connections, and the hub stays ready.
func TestHealthQuietPeers(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{PingInterval: -1, PongTimeout: 50 * time.Millisecond}, chat)
	quiet := wstest.Dial(t, s.url("lobby"))
	talker := wstest.Dial(t, s.url("lobby"))
	eventually(t, "both connections", func() bool { return s.hub.Health().Connections == 2 })
	quiet.ExpectNoEvent("chat", 100*time.Millisecond) // silent past the pong timeout
	roundTrip(t, talker)
	hl := s.hub.Health()
	if hl.Connections != 2 || hl.Healthy != 2 || hl.Unhealthy != 0 {
		t.Fatalf("Health = %+v, want 2 connections, both healthy", hl)
	}
	if status, _, body := probe(t, core.ReadyHandler(s.hub), http.MethodGet); status != http.StatusOK {
		t.Fatalf("ready: %d %s", status, body)
	}
}

func TestHealthHandlers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(*core.Hub) http.Handler
		method  string
		closed  bool
		status  int
		body    bool
	}{
		{"live GET", core.LiveHandler, http.MethodGet, false, 200, true},
		{"live HEAD has no body", core.LiveHandler, http.MethodHead, false, 200, false},
		{"ready GET", core.ReadyHandler, http.MethodGet, false, 200, true},
		{"ready HEAD has no body", core.ReadyHandler, http.MethodHead, false, 200, false},
		{"live after Close", core.LiveHandler, http.MethodGet, true, 503, true},
		{"ready after Close", core.ReadyHandler, http.MethodGet, true, 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, err := core.NewHub(core.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer hub.Close()
			if tt.closed {
				_ = hub.Close()
			}
			status, _, body := probe(t, tt.handler(hub), tt.method)
			if status != tt.status || (body != "") != tt.body {
				t.Fatalf("%d %q, want %d with body %v", status, body, tt.status, tt.body)
			}
		})
	}
}

// healthBroker is a Broker that links to nothing and reports a fixed
// state: enough to check how Health reports it. The Redis broker is tested
// against Redis in its own package.
type healthBroker struct{ connected bool }

func (b *healthBroker) Start(string, func(core.BrokerMessage)) error      { return nil }
func (b *healthBroker) Publish(context.Context, core.BrokerMessage) error { return nil }
func (b *healthBroker) Subscribe(string)                                  {}
func (b *healthBroker) Unsubscribe(string)                                {}
func (b *healthBroker) Stats() core.BrokerStats {
	return core.BrokerStats{Connected: b.connected, Subscriptions: 3, LastError: "dial tcp 10.0.0.7:6379: refused"}
}
func (b *healthBroker) Close() error { return nil }

func TestHealthBroker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		connected bool
	}{
		{"connected", true},
		{"disconnected: reported, still ready", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, err := core.NewHub(core.Config{Broker: &healthBroker{tt.connected}})
			if err != nil {
				t.Fatal(err)
			}
			defer hub.Close()
			status, hl, body := probe(t, core.ReadyHandler(hub), http.MethodGet)
			if status != http.StatusOK || hl.Broker == nil || hl.Broker.Connected != tt.connected || hl.Broker.Subscriptions != 3 {
				t.Fatalf("ready: %d %s", status, body)
			}
			// The probe is often unauthenticated: no broker address or error.
			if want := `"broker":{"connected":`; !strings.Contains(body, want) || strings.Contains(body, "10.0.0.7") {
				t.Fatalf("body %s: want the broker's state and no error text", body)
			}
		})
	}
}

// ReadyHandler and LiveHandler answer Kubernetes probes: ready says 503 as
// soon as Shutdown begins, so no new clients are routed to a draining pod.
func ExampleReadyHandler() {
	hub, _ := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mux := http.NewServeMux()
	mux.Handle("GET /livez", core.LiveHandler(hub))
	mux.Handle("GET /readyz", core.ReadyHandler(hub))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	probe := func(path string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		fmt.Print(path, " ", res.StatusCode, " ", string(body))
	}
	probe("/readyz")
	_ = hub.Shutdown(context.Background())
	probe("/readyz")
	probe("/livez")
	// Output:
	// /readyz 200 {"state":"serving","connections":0,"healthy":0,"unhealthy":0}
	// /readyz 503 {"state":"closed","connections":0,"healthy":0,"unhealthy":0}
	// /livez 503 {"state":"closed","connections":0,"healthy":0,"unhealthy":0}
}
