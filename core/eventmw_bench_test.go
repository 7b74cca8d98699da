package core

import (
	"encoding/json"
	"log/slog"
	"testing"
)

// benchEventConn returns a connection of a new hub, not upgraded, with a
// "chat" handler that does nothing: the benchmark measures the event path
// (envelope decoding, handler lookup, middleware, the reply decision).
func benchEventConn(b *testing.B, mw ...EventMiddlewareFunc) *Conn {
	b.Helper()
	h, err := NewHub(Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	c := &Conn{hub: h, id: "bench"}
	if err := c.On("chat", func(*Conn, json.RawMessage) (any, error) { return nil, nil }, mw...); err != nil {
		b.Fatal(err)
	}
	return c
}

var benchEventMsg = []byte(`{"event":"chat","data":{"text":"hello, room"}}`)

// BenchmarkEventDispatch measures one inbound event from its text to the
// handler's return: without event middleware (the path every application
// takes; compare with the same benchmark before event middleware existed),
// and with three (hub, route, event), each calling next.
func BenchmarkEventDispatch(b *testing.B) {
	pass := func(next EventFunc) EventFunc {
		return func(c *Conn, data json.RawMessage) (any, error) { return next(c, data) }
	}
	b.Run("none", func(b *testing.B) {
		c := benchEventConn(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.dispatchText(benchEventMsg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three", func(b *testing.B) {
		c := benchEventConn(b, pass)
		c.hub.UseEvent(pass)
		c.UseEvent(pass)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.dispatchText(benchEventMsg); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEventChain measures the event middleware alone, without the
// envelope's decoding: the handler call with no middleware, and through
// three (hub, route, event).
func BenchmarkEventChain(b *testing.B) {
	pass := func(next EventFunc) EventFunc {
		return func(c *Conn, data json.RawMessage) (any, error) { return next(c, data) }
	}
	data := json.RawMessage(`{"text":"hello, room"}`)
	handler := func(*Conn, json.RawMessage) (any, error) { return nil, nil }
	b.Run("none", func(b *testing.B) {
		c := benchEventConn(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.runEvent("chat", handler, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three", func(b *testing.B) {
		c := benchEventConn(b)
		c.hub.UseEvent(pass)
		c.UseEvent(pass)
		fn := wrapEvent(handler, []EventMiddlewareFunc{pass})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.runEvent("chat", fn, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
