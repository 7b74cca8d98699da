package echows_test

import (
	"bytes"
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
	t.Parallel()
	mount := func(route func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc)) func(*testing.T, *core.Hub, core.HandlerFunc) http.Handler {
		return func(t *testing.T, hub *core.Hub, fn core.HandlerFunc) http.Handler {
			e, _ := newEcho(t)
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					c.Set("user", "alice")
					c.Set("tenant", "acme")
					c.Set("unset", nil)
					return next(c)
				}
			})
			route(e, hub, fn)
			return e
		}
	}
	adaptertest.RunValues(t, []adaptertest.ValuesCase{
		{
			Name:  "Handler copies user",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) { e.GET("/ws", echows.Handler(hub, fn)) }),
			Want:  map[string]any{"user": "alice"},
		},
		{
			Name:  "WS copies user",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) { echows.WS(e, "/ws", hub, fn) }),
			Want:  map[string]any{"user": "alice"},
		},
		{
			Name: "named keys only",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				echows.WSWithConfig(e, "/ws", hub, fn, echows.Config{ContextKeys: []string{"tenant", "unset"}})
			}),
			Want: map[string]any{"tenant": "acme"},
		},
		{
			Name: "HandlerWithConfig",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				e.GET("/ws", echows.HandlerWithConfig(hub, fn, echows.Config{ContextKeys: []string{"user", "tenant"}}))
			}),
			Want: map[string]any{"user": "alice", "tenant": "acme"},
		},
		{
			Name: "no keys",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				echows.WSWithConfig(e, "/ws", hub, fn, echows.Config{ContextKeys: []string{}})
			}),
			Want: map[string]any{},
		},
	})
}

// TestRefusalErrorText: what Echo's loggers print for a refusal names the
// status and the message once, with the rushws cause, and Echo's error
// handler still writes the JSON body.
func TestRefusalErrorText(t *testing.T) {
	t.Parallel()
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
