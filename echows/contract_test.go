package echows_test

import (
	"net/http"
	"testing"

	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/internal/adaptertest"
)

// TestContract runs the contract every adapter keeps against echows,
// mounted with WSWithConfig in a group, as an Echo app would.
func TestContract(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Adapter{
		Name:         "echows",
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
			e.Logger.SetOutput(app.Log)
			e.Use(middleware.Recover())
			e.IPExtractor = echo.ExtractIPDirect()
			if app.TrustLoopbackProxy {
				e.IPExtractor = echo.ExtractIPFromXFFHeader() // trusts loopback, link-local and private ranges
			}
			if route := echows.WS(e, "/ws/:room/:id", hub, app.Handler, app.Middleware...); route.Method != http.MethodGet || route.Path != "/ws/:room/:id" {
				t.Errorf("WS returned route %s %s, want GET /ws/:room/:id", route.Method, route.Path)
			}
			api := e.Group(adaptertest.Prefix, func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
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
			api.GET("/admin/old-stats", echows.StatsHandler(hub))
			api.GET("/admin/old-rooms", echows.RoomsHandler(hub))
			cfg := echows.Config{
				Middleware:  app.Middleware,
				ContextKeys: []string{"user", "tenant"},
				RouteMiddleware: []echo.MiddlewareFunc{func(next echo.HandlerFunc) echo.HandlerFunc {
					return func(c echo.Context) error {
						if c.Request().Header.Get(adaptertest.HeaderRefuseRoute) != "" {
							return echo.NewHTTPError(adaptertest.RefuseStatus, "refused by the route")
						}
						c.Response().Header().Set(adaptertest.HeaderRoute, "ws")
						return next(c)
					}
				}},
			}
			api.Any("/any/:room/:id", echows.HandlerWithConfig(hub, app.Handler, cfg))
			if route := echows.WSWithConfig(api, "/ws/:room/:id", hub, app.Handler, cfg); route.Method != http.MethodGet || route.Path != adaptertest.Prefix+"/ws/:room/:id" {
				t.Errorf("WSWithConfig returned route %s %s, want GET %s/ws/:room/:id", route.Method, route.Path, adaptertest.Prefix)
			}
			return e
		},
	})
}
