package ginws

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/rushws/rushws/core"
)

// Handler returns a Gin handler that upgrades the request to a WebSocket on
// hub and runs fn, after the hub's middleware and then mw. Mount it like any
// route, in groups and beside Gin's own middleware:
//
//	r.GET("/chat/:room", ginws.Handler(hub, chat))
//
// Route params and c.ClientIP() (Gin's trusted proxies) are copied to the
// connection, and headers set by earlier middleware go out on the 101. A
// refused handshake is recorded with c.Error and answered with
// AbortWithStatusJSON and the body {"status":...,"message":...}. After the
// upgrade the chain is aborted and nothing of the *gin.Context is kept.
func Handler(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		var params []core.Param
		if len(c.Params) > 0 {
			params = make([]core.Param, len(c.Params))
			for i, p := range c.Params {
				params[i] = core.Param{Name: p.Key, Value: p.Value}
			}
		}
		err := hub.Serve(c.Writer, c.Request, core.ConnInfo{Params: params, ClientIP: c.ClientIP()}, fn, mw...)
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
		c.AbortWithStatusJSON(he.Status, core.ErrorBody(he))
	}
}

// StatsHandler returns a Gin handler serving hub.Stats() as JSON. Protect its
// route as you would any admin endpoint.
func StatsHandler(hub *core.Hub) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, hub.Stats())
	}
}

// RoomsHandler returns a Gin handler serving hub.Rooms() as JSON.
func RoomsHandler(hub *core.Hub) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, hub.Rooms())
	}
}

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
