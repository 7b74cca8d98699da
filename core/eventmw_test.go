package core_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// tracer is event middleware that records, in order, its name and the
// event it saw.
type tracer struct {
	mu  sync.Mutex
	log []string
}

func (tr *tracer) mw(name string) core.EventMiddlewareFunc {
	return func(next core.EventFunc) core.EventFunc {
		return func(c *core.Conn, data json.RawMessage) (any, error) {
			tr.mu.Lock()
			tr.log = append(tr.log, name+":"+c.Event())
			tr.mu.Unlock()
			return next(c, data)
		}
	}
}

func (tr *tracer) take() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	s := strings.Join(tr.log, " ")
	tr.log = nil
	return s
}

// TestEventMiddlewareOrder checks the order hub, route, event, handler, on
// every event of the route's connections, and that the per-event
// middleware covers its event alone.
func TestEventMiddlewareOrder(t *testing.T) {
	t.Parallel()
	tr := &tracer{}
	handler := func(c *core.Conn) error {
		c.UseEvent(tr.mw("handler-route")) // the route handler adds its own
		if err := c.On("a", func(c *core.Conn, data json.RawMessage) (any, error) {
			tr.mu.Lock()
			tr.log = append(tr.log, "fn:"+c.Event())
			tr.mu.Unlock()
			return "ok", nil
		}, tr.mw("event-a1"), tr.mw("event-a2")); err != nil {
			return err
		}
		return core.Handle(c, "b", func(c *core.Conn, n int) (any, error) { return n + 1, nil })
	}
	s := newServer(t, core.Config{}, handler, core.EventMiddleware(tr.mw("route1"), tr.mw("route2")))
	s.hub.UseEvent(tr.mw("hub1"))
	s.hub.UseEvent(tr.mw("hub2"))
	c := wstest.Dial(t, s.url("lobby"))

	if r := c.EmitWithAck("a", nil); r.Err != nil || string(r.Data) != `"ok"` {
		t.Fatalf("a: reply %s %+v", r.Data, r.Err)
	}
	want := "hub1:a hub2:a route1:a route2:a handler-route:a event-a1:a event-a2:a fn:a"
	if got := tr.take(); got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
	if r := c.EmitWithAck("b", 41); r.Err != nil || string(r.Data) != "42" {
		t.Fatalf("b: reply %s %+v", r.Data, r.Err)
	}
	if got, want := tr.take(), "hub1:b hub2:b route1:b route2:b handler-route:b"; got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
	// A raw message and an unknown event pass no event middleware.
	c.Emit("nope", nil)
	c.ExpectError(core.CodeUnknownEvent)
	if got := tr.take(); got != "" {
		t.Errorf("unknown event ran event middleware: %s", got)
	}
}

// refuseIf returns event middleware that refuses the events for which
// refuse returns an error.
func refuseIf(refuse func(c *core.Conn, data json.RawMessage) error) core.EventMiddlewareFunc {
	return func(next core.EventFunc) core.EventFunc {
		return func(c *core.Conn, data json.RawMessage) (any, error) {
			if err := refuse(c, data); err != nil {
				return nil, err
			}
			return next(c, data)
		}
	}
}

// TestEventRefusal checks what a refused event does: an error event, or
// an ack error when an ack was asked; the handler does not run; the
// connection stays open; Stats counts the reason; the log names the event
// and the connection, never the data.
func TestEventRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		code    string
		message string
		reason  string
	}{
		{"sentinel", core.ErrForbidden, core.CodeForbidden, "forbidden", core.RefuseForbidden},
		{"wrapped sentinel", fmt.Errorf("no way: %w", core.ErrForbidden), core.CodeForbidden, "forbidden", core.RefuseForbidden},
		{"refused error", &core.RefusedError{Reason: core.RefuseRole, Message: `role "mod" required`}, core.CodeForbidden, `role "mod" required`, core.RefuseRole},
		{"refused error with a code", &core.RefusedError{Reason: "quota", Code: core.CodeRateLimited, Message: "slow down"}, core.CodeRateLimited, "slow down", "quota"},
		{"event error forbidden", core.NewEventError(core.CodeForbidden, "not yours"), core.CodeForbidden, "not yours", core.RefuseForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			calls := 0
			s := newServer(t, core.Config{}, func(c *core.Conn) error {
				return c.On("secret", func(*core.Conn, json.RawMessage) (any, error) {
					mu.Lock()
					calls++
					mu.Unlock()
					return "done", nil
				}, refuseIf(func(c *core.Conn, data json.RawMessage) error {
					if string(data) == `"let me"` {
						return nil
					}
					return tt.err
				}))
			})
			c := wstest.Dial(t, s.url("lobby"))
			c.Emit("secret", "body-never-logged")
			if e := c.ExpectError(tt.code); e.Message != tt.message {
				t.Errorf("error event message = %q, want %q", e.Message, tt.message)
			}
			r := c.EmitWithAck("secret", "body-never-logged")
			if r.Err == nil || r.Err.Code != tt.code || r.Err.Message != tt.message {
				t.Fatalf("ack reply = %s %+v, want error %s %q", r.Data, r.Err, tt.code, tt.message)
			}
			if r := c.EmitWithAck("secret", "let me"); r.Err != nil || string(r.Data) != `"done"` {
				t.Fatalf("allowed event: reply %s %+v", r.Data, r.Err)
			}
			mu.Lock()
			if calls != 1 {
				t.Errorf("handler ran %d times, want once (refused events must not reach it)", calls)
			}
			mu.Unlock()
			st := s.hub.Stats()
			if st.EventsRefused[tt.reason] != 2 {
				t.Errorf("Stats.EventsRefused = %v, want %s: 2", st.EventsRefused, tt.reason)
			}
			if st.Errors != 0 {
				t.Errorf("Stats.Errors = %d, want 0: a refusal is not a handler error", st.Errors)
			}
			logs := s.logs.String()
			if !strings.Contains(logs, "event refused") || !strings.Contains(logs, `event="\"secret\""`) ||
				!strings.Contains(logs, "conn=") || !strings.Contains(logs, "reason="+tt.reason) {
				t.Errorf("log does not name the refused event, connection and reason:\n%s", logs)
			}
			if strings.Contains(logs, "body-never-logged") {
				t.Errorf("log holds the message body:\n%s", logs)
			}
			if strings.Contains(logs, "level=ERROR") {
				t.Errorf("refusal logged as an error:\n%s", logs)
			}
		})
	}
}

// TestEventMiddlewareDecorates checks middleware that sets metadata for
// the handler and times it, and that other errors still reach the client
// as "internal" and are logged.
func TestEventMiddlewareDecorates(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	timed := map[string]time.Duration{}
	timing := func(next core.EventFunc) core.EventFunc {
		return func(c *core.Conn, data json.RawMessage) (any, error) {
			start := time.Now()
			c.Set("trace", "t-"+c.Event())
			res, err := next(c, data)
			mu.Lock()
			timed[c.Event()] += time.Since(start)
			mu.Unlock()
			return res, err
		}
	}
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if err := c.On("trace", func(c *core.Conn, _ json.RawMessage) (any, error) { return c.Get("trace"), nil }); err != nil {
			return err
		}
		return c.On("fail", func(*core.Conn, json.RawMessage) (any, error) { return nil, errors.New("disk on fire") })
	})
	s.hub.UseEvent(timing)
	c := wstest.Dial(t, s.url("lobby"))
	if r := c.EmitWithAck("trace", nil); string(r.Data) != `"t-trace"` {
		t.Fatalf("trace: %s %+v", r.Data, r.Err)
	}
	if r := c.EmitWithAck("fail", nil); r.Err == nil || r.Err.Code != core.CodeInternal {
		t.Fatalf("fail: %s %+v, want internal", r.Data, r.Err)
	}
	mu.Lock()
	_, a := timed["trace"]
	_, b := timed["fail"]
	mu.Unlock()
	if !a || !b {
		t.Errorf("timing middleware saw %v, want trace and fail", timed)
	}
	if st := s.hub.Stats(); st.Errors != 1 || st.EventsRefused[core.RefuseForbidden] != 0 {
		t.Errorf("Stats: errors %d refused %v, want 1 error and no refusal", st.Errors, st.EventsRefused)
	}
}

// TestEventMiddlewarePanic checks that a panic in event middleware closes
// only that connection with 1011, as a handler's does.
func TestEventMiddlewarePanic(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	s.hub.UseEvent(func(next core.EventFunc) core.EventFunc {
		return func(c *core.Conn, data json.RawMessage) (any, error) {
			if string(data) == `"boom"` {
				panic("middleware bug")
			}
			return next(c, data)
		}
	})
	bad := wstest.Dial(t, s.url("lobby"))
	good := wstest.Dial(t, s.url("lobby"))
	bad.Emit("echo", "boom")
	bad.ExpectClose(core.CloseInternal)
	roundTrip(t, good)
}

// TestEventRefusalsInStatsJSON checks the refusal counters in the JSON
// form of Stats: every known reason present, zero or not.
func TestEventRefusalsInStatsJSON(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	b, err := json.Marshal(s.hub.Stats())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		EventsRefused map[string]uint64 `json:"eventsRefused"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, r := range core.EventRefuseReasons() {
		if _, ok := got.EventsRefused[r]; !ok {
			t.Errorf("eventsRefused lacks %q: %s", r, b)
		}
	}
}
