package ginws

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/pathparam"
)

// Config tunes a WebSocket route beyond the hub and the route handler. The
// zero Config is valid.
type Config struct {
	// Middleware is rushws connection middleware for this route, run after
	// the hub's (hub.Use) and before the upgrade. Optional. Default none.
	Middleware []core.MiddlewareFunc
	// RouteMiddleware is Gin middleware for this route only, the handlers
	// before the last in r.GET(path, handlers...): it runs after the
	// group's and r.Use's, before the handshake. Optional. Default none.
	RouteMiddleware []gin.HandlerFunc
}

// WS registers a WebSocket route on r (a *gin.Engine or *gin.RouterGroup)
// and returns what Gin's r.GET returns, for chaining:
//
//	api := r.Group("/api", auth) // auth calls c.Set("user", claims)
//	ginws.WS(api, "/chat/:room", hub, chat)
//
// It is r.GET(path, Handler(hub, fn, mw...)): fn runs once per connection
// after the hub's middleware and then mw, and every value Gin's middleware
// set with c.Set under a string key is readable with Conn.Get. Use
// WSWithConfig to add Gin route middleware.
func WS(r gin.IRoutes, path string, hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) gin.IRoutes {
	return r.GET(path, Handler(hub, fn, mw...))
}

// WSWithConfig is WS with a Config: connection middleware and Gin route
// middleware.
func WSWithConfig(r gin.IRoutes, path string, hub *core.Hub, fn core.HandlerFunc, cfg Config) gin.IRoutes {
	return r.GET(path, HandlerWithConfig(hub, fn, cfg)...)
}

// HandlerWithConfig is Handler with a Config. Gin chains a route's
// handlers itself, so it returns the chain, cfg.RouteMiddleware and then
// the WebSocket handler, to mount with r.GET(path, chain...):
//
//	r.GET("/chat/:room", ginws.HandlerWithConfig(hub, chat, cfg)...)
func HandlerWithConfig(hub *core.Hub, fn core.HandlerFunc, cfg Config) gin.HandlersChain {
	chain := make(gin.HandlersChain, 0, len(cfg.RouteMiddleware)+1)
	chain = append(chain, cfg.RouteMiddleware...)
	return append(chain, Handler(hub, fn, cfg.Middleware...))
}

// Handler returns a Gin handler that upgrades the request to a WebSocket on
// hub and runs fn, after the hub's middleware and then mw. Mount it like any
// route, in groups and beside Gin's own middleware:
//
//	r.GET("/chat/:room", ginws.Handler(hub, chat))
//
// Route params, c.ClientIP() (Gin's trusted proxies) and every value set
// with c.Set under a string key are copied to the connection, and headers
// set by earlier middleware go out on the 101. Gin routes on the decoded
// path by default, so a room "a%2Fb" in the URL does not match "/:room"
// (404); with r.UseRawPath = true it does and arrives as "a/b". A refused
// handshake is recorded with c.Error and answered with AbortWithStatusJSON
// and the body {"status":...,"message":...}. After the upgrade the chain is
// aborted and nothing of the *gin.Context is kept. When an earlier handler
// already wrote the response (c.Writer.WriteHeaderNow), no upgrade is
// possible: the error goes to c.Errors, where Gin's Logger prints it.
func Handler(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Writer.Written() {
			// net/http has sent the status line already: an upgrade would
			// follow a 200 with a 101 on the same connection.
			_ = c.Error(fmt.Errorf("ginws: cannot upgrade %q to a WebSocket: an earlier handler already wrote the response (status %d)",
				c.FullPath(), c.Writer.Status()))
			c.Abort()
			return
		}
		var params []core.Param
		if len(c.Params) > 0 {
			raw := c.Request.URL.RawPath
			params = make([]core.Param, len(c.Params))
			for i, p := range c.Params {
				params[i] = core.Param{Name: p.Key, Value: pathparam.Unescape(raw, p.Value)}
			}
		}
		var vals map[string]any
		for k, v := range c.Keys {
			if s, ok := k.(string); ok {
				if vals == nil {
					vals = make(map[string]any, len(c.Keys))
				}
				vals[s] = v
			}
		}
		err := hub.Serve(c.Writer, c.Request, core.ConnInfo{Params: params, ClientIP: c.ClientIP(), Route: c.FullPath(), Values: vals}, fn, mw...)
		if err == nil {
			// The connection now belongs to the hub. Later middleware
			// (loggers, gzip) sees a 101 that is already written and
			// cannot write into the hijacked connection.
			c.Writer = upgraded{c.Writer}
			c.Abort()
			return
		}
		var he *core.HTTPError
		if !errors.As(err, &he) {
			he = &core.HTTPError{Status: http.StatusInternalServerError, Err: err}
		}
		for k, vs := range he.Header {
			for _, v := range vs {
				c.Writer.Header().Add(k, v)
			}
		}
		_ = c.Error(err)
		c.AbortWithStatusJSON(he.Status, he.Body())
	}
}

// StatsHandler returns a Gin handler serving hub.Stats() as JSON.
//
// Deprecated: mount core.StatsHandler with gin.WrapH, as every
// operational endpoint of the hub (RoomsHandler, LiveHandler,
// ReadyHandler): r.GET("/admin/ws/stats", gin.WrapH(core.StatsHandler(hub))).
func StatsHandler(hub *core.Hub) gin.HandlerFunc { return gin.WrapH(core.StatsHandler(hub)) }

// RoomsHandler returns a Gin handler serving core.RoomsHandler: the rooms,
// and with ?room=, ?members= and ?limit= one room's members.
//
// Deprecated: mount core.RoomsHandler with gin.WrapH, as every operational
// endpoint of the hub.
func RoomsHandler(hub *core.Hub) gin.HandlerFunc { return gin.WrapH(core.RoomsHandler(hub)) }

// upgraded stands in for Gin's writer once the connection is hijacked: it
// reports the 101 that went out and refuses further writes, so middleware
// that runs after the handler neither logs 200 nor writes into the
// WebSocket.
type upgraded struct{ gin.ResponseWriter }

func (upgraded) Status() int                     { return http.StatusSwitchingProtocols }
func (upgraded) Size() int                       { return -1 }
func (upgraded) Written() bool                   { return true }
func (upgraded) WriteHeader(int)                 {}
func (upgraded) WriteHeaderNow()                 {}
func (upgraded) Flush()                          {}
func (upgraded) Write([]byte) (int, error)       { return 0, http.ErrHijacked }
func (upgraded) WriteString(string) (int, error) { return 0, http.ErrHijacked }
