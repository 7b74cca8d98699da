package ginws_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/internal/adaptertest"
)

// TestContract runs the contract every adapter keeps against ginws,
// mounted with WSWithConfig in a group, as a Gin app would. Gin matches
// routes on the decoded path by default, so a room holding %2F is a 404;
// TestRawPathParams covers r.UseRawPath.
func TestContract(t *testing.T) {
	adaptertest.Run(t, adaptertest.Adapter{
		Name:                 "ginws",
		ProxyHeaders:         true,
		Values:               true,
		EncodedSlashNotFound: true,
		Pattern:              adaptertest.Prefix + "/ws/:room/:id",
		PostOnGetStatus:      http.StatusNotFound, // Gin's default: HandleMethodNotAllowed is off
		DeprecatedHandlers:   true,
		Mount: func(t *testing.T, hub *core.Hub, app adaptertest.App) http.Handler {
			r := gin.New()
			proxies := []string(nil)
			if app.TrustLoopbackProxy {
				proxies = []string{"127.0.0.1"}
			}
			if err := r.SetTrustedProxies(proxies); err != nil {
				t.Fatal(err)
			}
			r.GET("/ws/:room/:id", ginws.Handler(hub, app.Handler, app.Middleware...))
			api := r.Group(adaptertest.Prefix, func(c *gin.Context) {
				if c.GetHeader(adaptertest.HeaderRefuse) != "" {
					c.AbortWithStatusJSON(adaptertest.RefuseStatus, gin.H{"message": "refused in front"})
					return
				}
				c.Header(adaptertest.HeaderGroup, "api")
				if u := c.GetHeader(adaptertest.HeaderUser); u != "" {
					c.Set("user", u)
				}
				c.Set("tenant", adaptertest.Tenant)
			})
			api.GET("/admin/stats", gin.WrapH(core.StatsHandler(hub)))
			api.GET("/admin/rooms", gin.WrapH(core.RoomsHandler(hub)))
			api.GET("/admin/livez", gin.WrapH(core.LiveHandler(hub)))
			api.GET("/admin/readyz", gin.WrapH(core.ReadyHandler(hub)))
			//lint:ignore SA1019 the deprecated wrapper must keep working
			api.GET("/admin/old-stats", ginws.StatsHandler(hub))
			//lint:ignore SA1019 the deprecated wrapper must keep working
			api.GET("/admin/old-rooms", ginws.RoomsHandler(hub))
			cfg := ginws.Config{
				Middleware:      app.Middleware,
				RouteMiddleware: []gin.HandlerFunc{func(c *gin.Context) { c.Header(adaptertest.HeaderRoute, "ws") }},
			}
			api.Any("/any/:room/:id", ginws.HandlerWithConfig(hub, app.Handler, cfg)...)
			ginws.WSWithConfig(api, "/ws/:room/:id", hub, app.Handler, cfg)
			return r
		},
	})
}
