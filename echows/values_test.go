package echows_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/internal/adaptertest"
)

// TestContextKeys shows which echo.Context values reach the connection:
// "user" by default, exactly the named keys with Config.ContextKeys, and
// never a nil value.
func TestContextKeys(t *testing.T) {
	tests := []struct {
		name  string
		mount func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc)
		want  map[string]any
	}{
		{
			name:  "Handler copies user",
			mount: func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) { e.GET("/ws", echows.Handler(hub, fn)) },
			want:  map[string]any{"user": "alice"},
		},
		{
			name:  "WS copies user",
			mount: func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) { echows.WS(e, "/ws", hub, fn) },
			want:  map[string]any{"user": "alice"},
		},
		{
			name: "named keys only",
			mount: func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				echows.WSWithConfig(e, "/ws", hub, fn, echows.Config{ContextKeys: []string{"tenant", "unset"}})
			},
			want: map[string]any{"tenant": "acme"},
		},
		{
			name: "HandlerWithConfig",
			mount: func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				e.GET("/ws", echows.HandlerWithConfig(hub, fn, echows.Config{ContextKeys: []string{"user", "tenant"}}))
			},
			want: map[string]any{"user": "alice", "tenant": "acme"},
		},
		{
			name: "no keys",
			mount: func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				echows.WSWithConfig(e, "/ws", hub, fn, echows.Config{ContextKeys: []string{}})
			},
			want: map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := adaptertest.NewHub(t, core.Config{})
			e, _ := newEcho(t)
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					c.Set("user", "alice")
					c.Set("tenant", "acme")
					c.Set("unset", nil)
					return next(c)
				}
			})
			tt.mount(e, hub, func(c *core.Conn) error {
				got := map[string]any{}
				for _, k := range []string{"user", "tenant", "unset"} {
					if v := c.Get(k); v != nil {
						got[k] = v
					}
				}
				return c.Emit("values", got)
			})
			srv, _ := adaptertest.StartServer(t, e)
			ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/ws"), nil)
			var got map[string]any
			adaptertest.ExpectEvent(t, ws, "values", &got)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("connection values = %v, want %v", got, tt.want)
			}
			adaptertest.CloseClient(ws)
			adaptertest.WaitNoConnections(t, hub)
		})
	}
}

// TestRouteMiddleware checks that Echo route middleware given to
// WSWithConfig or HandlerWithConfig runs for the route only and can refuse
// the handshake in Echo's way.
func TestRouteMiddleware(t *testing.T) {
	gate := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.QueryParam("pass") != "1" {
				return echo.NewHTTPError(http.StatusForbidden, "gate closed")
			}
			return next(c)
		}
	}
	hub, _ := adaptertest.NewHub(t, core.Config{})
	e, _ := newEcho(t)
	echows.WSWithConfig(e, "/gated/:room", hub, adaptertest.Chat, echows.Config{RouteMiddleware: []echo.MiddlewareFunc{gate}})
	e.GET("/gated2/:room", echows.HandlerWithConfig(hub, adaptertest.Chat, echows.Config{RouteMiddleware: []echo.MiddlewareFunc{gate}}))
	echows.WS(e, "/open/:room", hub, adaptertest.Chat)
	srv, _ := adaptertest.StartServer(t, e)

	for _, path := range []string{"/gated/lobby", "/gated2/lobby"} {
		_, resp, err := adaptertest.TryDial(adaptertest.WSURL(srv, path), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without pass: %v, want 403 from the route middleware", path, err)
		} else if body, _ := io.ReadAll(resp.Body); !json.Valid(body) {
			t.Errorf("%s: body %q, want Echo's JSON", path, body)
		}
		ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, path+"?pass=1"), nil)
		adaptertest.Exchange(t, ws)
		adaptertest.CloseClient(ws)
	}
	ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/open/lobby"), nil)
	adaptertest.Exchange(t, ws)
	adaptertest.CloseClient(ws)
	adaptertest.WaitNoConnections(t, hub)
	if st := hub.Stats(); len(st.Rejected) != 0 {
		t.Errorf("Rejected = %v, want none: Echo refused before the hub", st.Rejected)
	}
}

// TestRefusalErrorText: what Echo's loggers print for a refusal names the
// status and the message once, with the rushws cause, and Echo's error
// handler still writes the JSON body.
func TestRefusalErrorText(t *testing.T) {
	hub, _ := adaptertest.NewHub(t, core.Config{})
	e, _ := newEcho(t)
	logged := make(chan string, 1)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			if err != nil {
				logged <- err.Error()
			}
			return err
		}
	})
	echows.WS(e, "/ws", hub, adaptertest.Chat, func(core.HandlerFunc) core.HandlerFunc {
		return func(*core.Conn) error { return core.NewHTTPError(http.StatusUnauthorized, "who are you?") }
	})
	srv, _ := adaptertest.StartServer(t, e)
	_, resp, err := adaptertest.TryDial(adaptertest.WSURL(srv, "/ws"), nil)
	if err == nil || resp == nil {
		t.Fatalf("dial: %v, want 401", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if got := string(bytes.TrimSpace(body)); got != `{"message":"who are you?","status":401}` {
		t.Errorf("body = %s", got)
	}
	if got, want := <-logged, "code=401, message=who are you?, internal=rushws: handshake refused: 401 who are you?"; got != want {
		t.Errorf("error text:\n got %s\nwant %s", got, want)
	}
}

// TestUpgradeAfterResponseWritten: once a middleware has written the
// response status, no upgrade can follow. The handshake fails for the
// client with that status, the hub counts no connection, and the returned
// error names the cause for Echo's loggers.
func TestUpgradeAfterResponseWritten(t *testing.T) {
	hub, _ := adaptertest.NewHub(t, core.Config{})
	e, _ := newEcho(t)
	errs := make(chan string, 1)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().WriteHeader(http.StatusOK)
			err := next(c)
			if err != nil {
				errs <- err.Error()
			}
			return err
		}
	})
	echows.WS(e, "/ws/:room", hub, adaptertest.Chat)
	srv, errLog := adaptertest.StartServer(t, e)

	ws, resp, err := adaptertest.TryDial(adaptertest.WSURL(srv, "/ws/lobby"), nil)
	if err == nil {
		_ = ws.Close()
		t.Fatal("dial succeeded after the response was written, want a failed handshake")
	}
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("dial: %v, want the 200 the middleware wrote", err)
	}
	if got, want := <-errs, `echows: cannot upgrade "/ws/:room" to a WebSocket: an earlier handler already wrote the response (status 200)`; got != want {
		t.Errorf("error:\n got %s\nwant %s", got, want)
	}
	if st := hub.Stats(); st.Accepted != 0 || st.Connections != 0 {
		t.Errorf("Stats: accepted %d connections %d, want none", st.Accepted, st.Connections)
	}
	adaptertest.NoHijackNoise(t, errLog, nil)
}
