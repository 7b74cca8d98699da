package echows

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/pathparam"
)

// DefaultContextKey is the echo.Context key copied into every connection's
// metadata unless Config.ContextKeys says otherwise: echo-jwt's default
// ContextKey, where it stores the parsed token.
const DefaultContextKey = "user"

// Router is what WS registers a route on: *echo.Echo and *echo.Group both
// satisfy it, as does any router with Echo's GET method.
type Router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// Config tunes a WebSocket route beyond the hub and the route handler. The
// zero Config is valid: no extra middleware, and echo-jwt's "user" copied.
type Config struct {
	// Middleware is rushws connection middleware for this route, run after
	// the hub's (hub.Use) and before the upgrade. Optional. Default none.
	Middleware []core.MiddlewareFunc
	// ContextKeys names the echo.Context values (c.Get) copied into the
	// connection's metadata before any rushws middleware runs, so what
	// Echo's middleware stored (echo-jwt's token, a tenant) is readable
	// with Conn.Get in middleware, the route handler and event handlers.
	// Echo cannot list the keys of its context, so they are named here;
	// keys whose value is nil are skipped, and an empty, non-nil list
	// copies nothing. Optional. Default []string{"user"}
	// (DefaultContextKey).
	ContextKeys []string
	// RouteMiddleware is Echo middleware for this route only, the m of
	// e.GET(path, h, m...): it runs after the group's and e.Use's, before
	// the handshake. Optional. Default none.
	RouteMiddleware []echo.MiddlewareFunc
}

// WS registers a WebSocket route on r (an *echo.Echo or *echo.Group) and
// returns the route Echo registered:
//
//	api := e.Group("/api", echojwt.WithConfig(jwtCfg))
//	echows.WS(api, "/chat/:room", hub, chat)
//
// It is e.GET(path, Handler(hub, fn, mw...)): fn runs once per connection
// after the hub's middleware and then mw, and echo-jwt's "user" set by the
// group is readable with c.Get("user"). Use WSWithConfig to copy other
// keys or add Echo route middleware.
func WS(r Router, path string, hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) *echo.Route {
	return r.GET(path, Handler(hub, fn, mw...))
}

// WSWithConfig is WS with a Config: connection middleware, the
// echo.Context keys to copy, and Echo route middleware.
func WSWithConfig(r Router, path string, hub *core.Hub, fn core.HandlerFunc, cfg Config) *echo.Route {
	return r.GET(path, handler(hub, fn, cfg.Middleware, cfg.ContextKeys), cfg.RouteMiddleware...)
}

// Handler returns an Echo handler that upgrades the request to a WebSocket
// on hub and runs fn, after the hub's middleware and then mw. Mount it like
// any route, in groups and beside Echo's own middleware:
//
//	e.GET("/chat/:room", echows.Handler(hub, chat))
//
// Route params (decoded: a room "a%2Fb" in the URL is "a/b"), c.RealIP()
// (Echo's IPExtractor) and c.Get("user") are copied to the connection, and
// headers set by earlier middleware go out on the 101. A refused handshake
// returns an *echo.HTTPError whose message is the JSON body
// {"status":...,"message":...}, for Echo's HTTPErrorHandler to write; it
// wraps the *core.HTTPError. After the upgrade it returns nil and keeps
// nothing of the echo.Context. When an earlier handler already wrote the
// response, no upgrade is possible and it returns an error saying so.
func Handler(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) echo.HandlerFunc {
	return handler(hub, fn, mw, nil)
}

// HandlerWithConfig is Handler with a Config. Its RouteMiddleware wraps
// the returned handler, as e.GET(path, h, m...) would.
func HandlerWithConfig(hub *core.Hub, fn core.HandlerFunc, cfg Config) echo.HandlerFunc {
	h := handler(hub, fn, cfg.Middleware, cfg.ContextKeys)
	for i := len(cfg.RouteMiddleware) - 1; i >= 0; i-- {
		h = cfg.RouteMiddleware[i](h)
	}
	return h
}

var defaultKeys = []string{DefaultContextKey}

func handler(hub *core.Hub, fn core.HandlerFunc, mw []core.MiddlewareFunc, keys []string) echo.HandlerFunc {
	if keys == nil {
		keys = defaultKeys
	}
	keys = append([]string(nil), keys...) // the caller's slice may change later
	return func(c echo.Context) error {
		if res := c.Response(); res.Committed {
			// net/http has sent the status line already: an upgrade would
			// follow it with a 101 on the same connection.
			return fmt.Errorf("echows: cannot upgrade %q to a WebSocket: an earlier handler already wrote the response (status %d)",
				c.Path(), res.Status)
		}
		req := c.Request()
		names, values := c.ParamNames(), c.ParamValues()
		var params []core.Param
		if len(names) > 0 {
			params = make([]core.Param, 0, len(names))
			for i, name := range names {
				if i < len(values) {
					params = append(params, core.Param{Name: name, Value: pathparam.Unescape(req.URL.RawPath, values[i])})
				}
			}
		}
		var vals map[string]any
		for _, k := range keys {
			if v := c.Get(k); v != nil {
				if vals == nil {
					vals = make(map[string]any, len(keys))
				}
				vals[k] = v
			}
		}
		res := c.Response()
		err := hub.Serve(res, req, core.ConnInfo{Params: params, ClientIP: c.RealIP(), Route: c.Path(), Values: vals}, fn, mw...)
		if err == nil {
			// The connection now belongs to the hub; record the 101 for
			// Echo's logger without writing anything.
			res.Status = http.StatusSwitchingProtocols
			res.Committed = true
			return nil
		}
		var he *core.HTTPError
		if !errors.As(err, &he) {
			return err
		}
		for k, vs := range he.Header {
			for _, v := range vs {
				res.Header().Add(k, v)
			}
		}
		return echo.NewHTTPError(he.Status, errorBody{he}).SetInternal(he)
	}
}

// errorBody is the Message of the *echo.HTTPError a refusal returns: Echo's
// error handler writes it as the JSON body {"status":...,"message":...},
// and loggers print the plain message.
type errorBody struct{ he *core.HTTPError }

func (b errorBody) MarshalJSON() ([]byte, error) { return json.Marshal(b.he.Body()) }
func (b errorBody) String() string               { return b.he.Body().Message }

// StatsHandler returns an Echo handler serving hub.Stats() as JSON.
//
// Deprecated: mount core.StatsHandler with echo.WrapHandler, as every
// operational endpoint of the hub (RoomsHandler, LiveHandler,
// ReadyHandler): e.GET("/admin/ws/stats", echo.WrapHandler(core.StatsHandler(hub))).
func StatsHandler(hub *core.Hub) echo.HandlerFunc { return echo.WrapHandler(core.StatsHandler(hub)) }

// RoomsHandler returns an Echo handler serving core.RoomsHandler: the
// rooms, and with ?room=, ?members= and ?limit= one room's members.
//
// Deprecated: mount core.RoomsHandler with echo.WrapHandler, as every
// operational endpoint of the hub.
func RoomsHandler(hub *core.Hub) echo.HandlerFunc { return echo.WrapHandler(core.RoomsHandler(hub)) }
