package ginws_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/internal/adaptertest"
)

// TestContract runs the contract every adapter keeps against ginws,
// mounted with WSWithConfig in a group, as a Gin app would. Gin matches
// routes on the decoded path by default, so a room holding %2F is a 404;
// TestRawPathParams covers r.UseRawPath.
func TestContract(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Adapter{
		Name:                 "ginws",
		ProxyHeaders:         true,
		Values:               true,
		EncodedSlashNotFound: true,
		Pattern:              adaptertest.Prefix + "/ws/:room/:id",
		PostOnGetStatus:      http.StatusNotFound, // Gin's default: HandleMethodNotAllowed is off
		DeprecatedHandlers:   true,
		JWT:                  true,
		WriteFirst:           true,
		Recovery:             true,
		Mount: func(t *testing.T, hub *core.Hub, app adaptertest.App) http.Handler {
			r := gin.New()
			r.Use(gin.RecoveryWithWriter(app.Log))
			proxies := []string(nil)
			if app.TrustLoopbackProxy {
				proxies = []string{"127.0.0.1"}
			}
			if err := r.SetTrustedProxies(proxies); err != nil {
				t.Fatal(err)
			}
			if routes := ginws.WS(r, "/ws/:room/:id", hub, app.Handler, app.Middleware...); routes != r {
				t.Errorf("WS returned %v, want the router it registered on", routes)
			}
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
				if c.GetHeader(adaptertest.HeaderWriteFirst) != "" {
					c.Writer.WriteHeaderNow()
				}
				c.Next()
				for _, err := range c.Errors {
					if app.OnError != nil {
						app.OnError(err)
					}
				}
			})
			if app.JWTKey != nil {
				api.Use(requireJWT(app.JWTKey))
			}
			api.GET("/admin/stats", gin.WrapH(core.StatsHandler(hub)))
			api.GET("/admin/rooms", gin.WrapH(core.RoomsHandler(hub)))
			api.GET("/admin/livez", gin.WrapH(core.LiveHandler(hub)))
			api.GET("/admin/readyz", gin.WrapH(core.ReadyHandler(hub)))
			api.GET("/admin/old-stats", ginws.StatsHandler(hub))
			api.GET("/admin/old-rooms", ginws.RoomsHandler(hub))
			cfg := ginws.Config{
				Middleware: app.Middleware,
				RouteMiddleware: []gin.HandlerFunc{func(c *gin.Context) {
					if c.GetHeader(adaptertest.HeaderRefuseRoute) != "" {
						c.AbortWithStatusJSON(adaptertest.RefuseStatus, gin.H{"message": "refused by the route"})
						return
					}
					c.Header(adaptertest.HeaderRoute, "ws")
				}},
			}
			api.Any("/any/:room/:id", ginws.HandlerWithConfig(hub, app.Handler, cfg)...)
			if routes := ginws.WSWithConfig(api, "/ws/:room/:id", hub, app.Handler, cfg); routes != api {
				t.Errorf("WSWithConfig returned %v, want the group it registered on", routes)
			}
			return r
		},
	})
}

// requireJWT is the Gin middleware an existing app protects its API group
// with: it verifies the bearer token and stores it under "user".
func requireJWT(key []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"message": "missing token"})
			return
		}
		token, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return key, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
		if err != nil {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"message": "invalid token"})
			return
		}
		c.Set("user", token)
		c.Next()
	}
}
