package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
)

// Event middleware runs around event handlers: hub-wide (UseEvent), per
// route (EventMiddleware) and per event (the extra arguments of On), in
// that order. Returning core.ErrForbidden (or a *core.RefusedError)
// refuses the event: the client gets the "forbidden" error, the handler
// does not run, and Stats counts it.
func ExampleEventMiddlewareFunc() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	defer hub.Shutdown(context.Background())
	trace := func(name string) core.EventMiddlewareFunc {
		return func(next core.EventFunc) core.EventFunc {
			return func(c *core.Conn, data json.RawMessage) (any, error) {
				fmt.Printf("%s sees %q\n", name, c.Event())
				return next(c, data)
			}
		}
	}
	onlyMods := func(next core.EventFunc) core.EventFunc {
		return func(c *core.Conn, data json.RawMessage) (any, error) {
			if c.Get("role") != "moderator" {
				return nil, &core.RefusedError{Reason: core.RefuseRole, Message: "moderators only"}
			}
			return next(c, data)
		}
	}
	hub.UseEvent(trace("hub"))
	route := func(c *core.Conn) error {
		c.Set("role", "member")
		return c.On("ban", func(*core.Conn, json.RawMessage) (any, error) {
			fmt.Println("banned") // never reached by a member
			return nil, nil
		}, trace("event"), onlyMods)
	}
	srv := httptest.NewServer(hub.Handler(route, core.EventMiddleware(trace("route"))))
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"ban","data":"bob","ack":1}`))
	_, reply, _ := ws.ReadMessage()
	fmt.Println(string(reply))
	fmt.Println("refused:", hub.Stats().EventsRefused[core.RefuseRole])
	// Output:
	// hub sees "ban"
	// route sees "ban"
	// event sees "ban"
	// {"ack":1,"error":{"code":"forbidden","message":"moderators only"}}
	// refused: 1
}
