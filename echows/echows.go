package echows

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/rushws/rushws/core"
)

// Handler returns an Echo handler that upgrades the request to a WebSocket
// on hub and runs fn, after the hub's middleware and then mw. Mount it like
// any route, in groups and beside Echo's own middleware:
//
//	e.GET("/chat/:room", echows.Handler(hub, chat))
//
// Route params and c.RealIP() (Echo's IPExtractor) are copied to the
// connection, and headers set by earlier middleware go out on the 101. A
// refused handshake returns an *echo.HTTPError whose message is the JSON body
// {"status":...,"message":...}, for Echo's HTTPErrorHandler to write. After
// the upgrade it returns nil and keeps nothing of the echo.Context.
func Handler(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		names, values := c.ParamNames(), c.ParamValues()
		var params []core.Param
		if len(names) > 0 {
			params = make([]core.Param, 0, len(names))
			for i, name := range names {
				if i < len(values) {
					params = append(params, core.Param{Name: name, Value: values[i]})
				}
			}
		}
		res := c.Response()
		err := hub.Serve(res, c.Request(), core.ConnInfo{Params: params, ClientIP: c.RealIP()}, fn, mw...)
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
		return echo.NewHTTPError(he.Status, core.ErrorBody(he)).SetInternal(he)
	}
}

// StatsHandler returns an Echo handler serving hub.Stats() as JSON. Protect
// its route as you would any admin endpoint.
func StatsHandler(hub *core.Hub) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, hub.Stats())
	}
}

// RoomsHandler returns an Echo handler serving hub.Rooms() as JSON.
func RoomsHandler(hub *core.Hub) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, hub.Rooms())
	}
}
