package echows_test

import (
	"bytes"
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
	t.Parallel()
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
			t.Parallel()
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
