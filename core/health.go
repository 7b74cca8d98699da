package core

import (
	"encoding/json"
	"net/http"
)

// Hub states reported by Health.
const (
	// StateServing means the hub accepts connections.
	StateServing = "serving"
	// StateShuttingDown means Shutdown or Close has begun: new handshakes
	// get 503 and live connections are being closed.
	StateShuttingDown = "shutting_down"
	// StateClosed means Shutdown or Close has begun and every connection
	// has ended.
	StateClosed = "closed"
)

// Health is what the health handlers report: the hub's state and how its
// connections are doing. Unlike Stats it names no counter totals, so it
// is cheap to serve to a prober every few seconds.
type Health struct {
	// State is StateServing, StateShuttingDown or StateClosed.
	State string `json:"state"`
	// Connections is the number of live connections; Healthy of them are
	// alive (Conn.IsAlive: open, and with heartbeats on the peer seen
	// within PongTimeout),
	// Unhealthy are not.
	Connections int `json:"connections"`
	Healthy     int `json:"healthy"`
	Unhealthy   int `json:"unhealthy"`
	// Broker reports the broker's link; nil when the hub has no broker.
	Broker *BrokerHealth `json:"broker,omitempty"`
}

// BrokerHealth is the broker's part of Health.
type BrokerHealth struct {
	// Connected reports whether the broker's subscriber is connected. While
	// it is not, messages from other hubs are lost (the hub still serves
	// its own connections).
	Connected bool `json:"connected"`
	// Subscriptions is the number of room channels subscribed now.
	Subscriptions int `json:"subscriptions"`
}

// Health returns the hub's state and the health of its connections. It
// visits every connection, so call it from probes and admin pages, not per
// message.
func (h *Hub) Health() Health {
	h.mu.RLock()
	closing, remaining := h.closing, h.live
	h.mu.RUnlock()
	hl := Health{State: StateServing}
	switch {
	case closing && remaining == 0:
		hl.State = StateClosed
	case closing:
		hl.State = StateShuttingDown
	}
	for _, c := range h.Connections() {
		hl.Connections++
		if c.IsAlive() {
			hl.Healthy++
		} else {
			hl.Unhealthy++
		}
	}
	if b := h.cfg.Broker; b != nil {
		bs := b.Stats()
		hl.Broker = &BrokerHealth{Connected: bs.Connected, Subscriptions: bs.Subscriptions}
	}
	return hl
}

// LiveHandler answers a liveness probe (Kubernetes livenessProbe, a
// /livez route): 200 while the hub serves or drains, 503 once it has
// closed, with the Health as JSON. A hub that is shutting down stays live,
// so the orchestrator does not restart a process that is draining its
// connections. Mount it with echo.WrapHandler or gin.WrapH on any route.
func LiveHandler(h *Hub) http.Handler {
	return healthHandler(h, func(hl Health) bool { return hl.State != StateClosed })
}

// ReadyHandler answers a readiness probe (Kubernetes readinessProbe, a
// /readyz route): 200 while the hub accepts connections, 503 from the
// moment Shutdown or Close begins, with the Health as JSON, so load
// balancers stop sending new clients to a hub that would refuse them. A
// disconnected broker is reported in the body but does not fail the
// probe: the hub still serves its own connections, and taking every
// replica out when the broker is down would turn a partial outage into a
// full one.
func ReadyHandler(h *Hub) http.Handler {
	return healthHandler(h, func(hl Health) bool { return hl.State == StateServing })
}

func healthHandler(h *Hub, ok func(Health) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hl := h.Health()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ok(hl) {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		if r.Method == http.MethodHead {
			return
		}
		_ = json.NewEncoder(w).Encode(hl)
	})
}
