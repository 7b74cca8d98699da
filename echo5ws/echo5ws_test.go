package echo5ws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	echojwt "github.com/labstack/echo-jwt/v5"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echo5ws"
	"github.com/rushws/rushws/internal/adaptertest"
	"github.com/rushws/rushws/wstest"
)

// TestContract runs the contract every adapter keeps against echo5ws,
// mounted with WSWithConfig in a group, as an Echo v5 app would.
func TestContract(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Adapter{
		Name:         "echo5ws",
		ProxyHeaders: true,
		Values:       true,
		Pattern:      adaptertest.Prefix + "/ws/:room/:id",
		// Echo's router answers 405 for a path it knows under another method.
		PostOnGetStatus:    http.StatusMethodNotAllowed,
		PostOnGetJSON:      true,
		JWT:                true,
		WriteFirst:         true,
		Recovery:           true,
		DeprecatedHandlers: true,
		Mount: func(t *testing.T, hub *core.Hub, app adaptertest.App) http.Handler {
			e := echo.New()
			e.Logger = slog.New(slog.NewTextHandler(app.Log, nil))
			e.Use(middleware.Recover())
			if app.TrustLoopbackProxy {
				e.IPExtractor = echo.ExtractIPFromXFFHeader() // trusts loopback, link-local and private ranges
			}
			if route := echo5ws.WS(e, "/ws/:room/:id", hub, app.Handler, app.Middleware...); route.Method != http.MethodGet || route.Path != "/ws/:room/:id" {
				t.Errorf("WS returned route %s %s, want GET /ws/:room/:id", route.Method, route.Path)
			}
			api := e.Group(adaptertest.Prefix, func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c *echo.Context) error {
					if c.Request().Header.Get(adaptertest.HeaderRefuse) != "" {
						return echo.NewHTTPError(adaptertest.RefuseStatus, "refused in front")
					}
					c.Response().Header().Set(adaptertest.HeaderGroup, "api")
					if u := c.Request().Header.Get(adaptertest.HeaderUser); u != "" {
						c.Set("user", u)
					}
					c.Set("tenant", adaptertest.Tenant)
					if c.Request().Header.Get(adaptertest.HeaderWriteFirst) != "" {
						c.Response().WriteHeader(http.StatusOK)
					}
					err := next(c)
					if err != nil && app.OnError != nil {
						app.OnError(err)
					}
					return err
				}
			})
			if app.JWTKey != nil {
				api.Use(echojwt.WithConfig(echojwt.Config{SigningKey: app.JWTKey}))
			}
			api.GET("/admin/stats", echo.WrapHandler(core.StatsHandler(hub)))
			api.GET("/admin/rooms", echo.WrapHandler(core.RoomsHandler(hub)))
			api.GET("/admin/livez", echo.WrapHandler(core.LiveHandler(hub)))
			api.GET("/admin/readyz", echo.WrapHandler(core.ReadyHandler(hub)))
			api.GET("/admin/old-stats", echo5ws.StatsHandler(hub))
			api.GET("/admin/old-rooms", echo5ws.RoomsHandler(hub))
			cfg := echo5ws.Config{
				Middleware:  app.Middleware,
				ContextKeys: []string{"user", "tenant"},
				RouteMiddleware: []echo.MiddlewareFunc{func(next echo.HandlerFunc) echo.HandlerFunc {
					return func(c *echo.Context) error {
						if c.Request().Header.Get(adaptertest.HeaderRefuseRoute) != "" {
							return echo.NewHTTPError(adaptertest.RefuseStatus, "refused by the route")
						}
						c.Response().Header().Set(adaptertest.HeaderRoute, "ws")
						return next(c)
					}
				}},
			}
			api.Any("/any/:room/:id", echo5ws.HandlerWithConfig(hub, app.Handler, cfg))
			if route := echo5ws.WSWithConfig(api, "/ws/:room/:id", hub, app.Handler, cfg); route.Method != http.MethodGet || route.Path != adaptertest.Prefix+"/ws/:room/:id" {
				t.Errorf("WSWithConfig returned route %s %s, want GET %s/ws/:room/:id", route.Method, route.Path, adaptertest.Prefix)
			}
			return e
		},
	})
}

// TestContextKeys shows which echo.Context values reach the connection:
// "user" by default, exactly the named keys with Config.ContextKeys, and
// never a nil value.
func TestContextKeys(t *testing.T) {
	t.Parallel()
	mount := func(route func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc)) func(*testing.T, *core.Hub, core.HandlerFunc) http.Handler {
		return func(t *testing.T, hub *core.Hub, fn core.HandlerFunc) http.Handler {
			e, _ := newEcho(t)
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c *echo.Context) error {
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
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) { e.GET("/ws", echo5ws.Handler(hub, fn)) }),
			Want:  map[string]any{"user": "alice"},
		},
		{
			Name:  "WS copies user",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) { echo5ws.WS(e, "/ws", hub, fn) }),
			Want:  map[string]any{"user": "alice"},
		},
		{
			Name: "named keys only",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				echo5ws.WSWithConfig(e, "/ws", hub, fn, echo5ws.Config{ContextKeys: []string{"tenant", "unset"}})
			}),
			Want: map[string]any{"tenant": "acme"},
		},
		{
			Name: "HandlerWithConfig",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				e.GET("/ws", echo5ws.HandlerWithConfig(hub, fn, echo5ws.Config{ContextKeys: []string{"user", "tenant"}}))
			}),
			Want: map[string]any{"user": "alice", "tenant": "acme"},
		},
		{
			Name: "no keys",
			Mount: mount(func(e *echo.Echo, hub *core.Hub, fn core.HandlerFunc) {
				echo5ws.WSWithConfig(e, "/ws", hub, fn, echo5ws.Config{ContextKeys: []string{}})
			}),
			Want: map[string]any{},
		},
	})
}

// TestRouterAnswerThroughEcho checks the body Echo v5's router and error
// handler give a POST on a GET route, which the hub never sees. The
// contract covers the refusals rushws makes, with their JSON body.
func TestRouterAnswerThroughEcho(t *testing.T) {
	t.Parallel()
	hub, _ := adaptertest.NewHub(t, core.Config{})
	e, _ := newEcho(t)
	echo5ws.WS(e, "/ws/:room", hub, adaptertest.Chat)
	srv, errLog := adaptertest.StartServer(t, e)
	resp, body := adaptertest.Handshake(t, srv, http.MethodPost, "/ws/lobby", true, nil)
	if want := `{"message":"Method Not Allowed"}`; resp.StatusCode != http.StatusMethodNotAllowed || strings.TrimSpace(string(body)) != want {
		t.Errorf("got %d %s, want 405 %s", resp.StatusCode, body, want)
	}
	if st := hub.Stats(); len(st.Rejected) != 0 {
		t.Errorf("Stats.Rejected = %v, want none", st.Rejected)
	}
	adaptertest.NoHijackNoise(t, errLog, nil)
}

// TestRefusalUnwrapsToHTTPError lets a custom HTTPErrorHandler find the
// rushws refusal with errors.As.
func TestRefusalUnwrapsToHTTPError(t *testing.T) {
	t.Parallel()
	hub, _ := adaptertest.NewHub(t, core.Config{})
	e, _ := newEcho(t)
	found := make(chan int, 1)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		var he *core.HTTPError
		if errors.As(err, &he) {
			found <- he.Status
		}
		_ = c.String(echo.StatusCode(err), "custom")
	}
	echo5ws.WS(e, "/ws", hub, adaptertest.Chat)
	srv, _ := adaptertest.StartServer(t, e)
	resp, err := http.Get(srv.URL + "/ws") // not a handshake
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || string(body) != "custom" {
		t.Errorf("got %d %q, want 400 from the custom handler", resp.StatusCode, body)
	}
	select {
	case status := <-found:
		if status != http.StatusBadRequest {
			t.Errorf("*core.HTTPError status %d, want 400", status)
		}
	default:
		t.Error("errors.As found no *core.HTTPError")
	}
}

// TestEchoMiddleware runs Echo v5's own middleware in front of the route:
// each lets the handshake through, sees the 101, and writes nothing into
// the hijacked connection.
func TestEchoMiddleware(t *testing.T) {
	t.Parallel()
	key := []byte("test-secret-key")
	token := adaptertest.SignToken(t, key, "alice")
	reqCtx := make(chan context.Context, 1)
	mount := func(setup func(e *echo.Echo, mwLog io.Writer)) func(*testing.T, *core.Hub, io.Writer) (http.Handler, *wstest.LogBuffer) {
		return func(t *testing.T, hub *core.Hub, mwLog io.Writer) (http.Handler, *wstest.LogBuffer) {
			e, echoLog := newEcho(t)
			setup(e, mwLog)
			echo5ws.WS(e, "/ws/:room", hub, adaptertest.Chat)
			return e, echoLog
		}
	}
	adaptertest.RunFront(t, []adaptertest.Front{
		{
			Name: "RequestLogger",
			Mount: mount(func(e *echo.Echo, w io.Writer) {
				e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
					LogStatus: true,
					LogURI:    true,
					LogValuesFunc: func(c *echo.Context, v middleware.RequestLoggerValues) error {
						_, err := fmt.Fprintf(w, "uri=%s status=%d\n", v.URI, v.Status)
						return err
					},
				}))
			}),
			Check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, "status=101") {
					t.Errorf("RequestLogger did not log status 101:\n%s", log)
				}
			},
		},
		{
			Name:  "Recover",
			Mount: mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Recover()) }),
		},
		{
			Name:  "RequestID",
			Mount: mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.RequestID()) }),
			Check: func(t *testing.T, resp *http.Response, _ string) {
				if resp.Header.Get(echo.HeaderXRequestID) == "" {
					t.Error("no X-Request-Id on the 101")
				}
			},
		},
		{
			Name:   "CORS",
			Mount:  mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.CORS("*")) }),
			Header: http.Header{"Origin": {"SAME-ORIGIN"}},
			Check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get(echo.HeaderAccessControlAllowOrigin); got != "*" {
					t.Errorf("Access-Control-Allow-Origin on the 101 = %q, want *", got)
				}
			},
		},
		{
			Name: "ContextTimeout",
			Mount: mount(func(e *echo.Echo, _ io.Writer) {
				e.Use(middleware.ContextTimeout(50*time.Millisecond), func(next echo.HandlerFunc) echo.HandlerFunc {
					return func(c *echo.Context) error {
						reqCtx <- c.Request().Context()
						return next(c)
					}
				})
			}),
			// The connection outlives the request's deadline.
			AfterWelcome: func(t *testing.T) { <-(<-reqCtx).Done() },
		},
		{
			Name: "echo-jwt",
			Mount: mount(func(e *echo.Echo, _ io.Writer) {
				e.Use(echojwt.WithConfig(echojwt.Config{SigningKey: key}))
			}),
			Header: http.Header{"Authorization": {"Bearer " + token}},
		},
	})
}

// TestGracefulShutdown serves an app with echo.StartConfig as the README
// shows: on the signal, hub.Shutdown closes every WebSocket with 1001, then
// StartConfig's graceful shutdown stops HTTP within GracefulTimeout, and
// Start returns.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	hub, _ := adaptertest.NewHub(t, core.Config{})
	e, _ := newEcho(t)
	echo5ws.WS(e, "/ws/:room", hub, adaptertest.Chat)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	signal, sendSignal := context.WithCancel(context.Background())
	httpCtx, stopHTTP := context.WithCancel(context.Background())
	hubDone := make(chan error, 1)
	go func() {
		<-signal.Done()
		ctx, cancel := context.WithTimeout(context.Background(), adaptertest.WaitTimeout)
		defer cancel()
		hubDone <- hub.Shutdown(ctx) // WebSockets first
		stopHTTP()                   // then HTTP, within GracefulTimeout
	}()
	started := make(chan error, 1)
	go func() {
		started <- echo.StartConfig{Listener: ln, HideBanner: true, HidePort: true, GracefulTimeout: adaptertest.WaitTimeout}.Start(httpCtx, e)
	}()

	ws, _ := adaptertest.Dial(t, "ws://"+ln.Addr().String()+"/ws/lobby", nil)
	adaptertest.ExpectEvent(t, ws, "welcome", nil)
	sendSignal()

	_ = ws.SetReadDeadline(time.Now().Add(adaptertest.WaitTimeout))
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("read during shutdown: %v, want close 1001", err)
	}
	if err := <-hubDone; err != nil {
		t.Errorf("hub.Shutdown: %v", err)
	}
	select {
	case err := <-started:
		if err != nil {
			t.Errorf("StartConfig.Start: %v", err)
		}
	case <-time.After(adaptertest.WaitTimeout):
		t.Fatal("StartConfig.Start did not return after the shutdown")
	}
	if _, _, err := adaptertest.TryDial("ws://"+ln.Addr().String()+"/ws/lobby", nil); err == nil {
		t.Error("dial after shutdown succeeded")
	}
}
