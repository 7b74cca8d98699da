package main

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/ginws"
)

// rushwsServer is rushws mounted as its users mount it: hub.Handler on
// net/http, echows.Handler on Echo or ginws.Handler on Gin. Messages arrive
// through the raw handler (OnMessage), as for an app with its own protocol.
// The read mode (core.Config.ReadMode) comes from benchserver's -read flag.
type rushwsServer struct {
	hub   *core.Hub
	mount string
}

func newRushws(o options, impl string) (*rushwsServer, error) {
	cfg := core.Config{
		PingInterval: -1,
		ReadMode:     o.readMode,
		// Slow-consumer warnings would flood stderr in the slow run.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
	if o.ping > 0 {
		cfg.PingInterval = o.ping
	}
	hub, err := core.NewHub(cfg)
	if err != nil {
		return nil, err
	}
	return &rushwsServer{hub: hub, mount: impl}, nil
}

// onMessage is shared by every connection: no closure per connection.
func (s *rushwsServer) onMessage(c *core.Conn, mt int, data []byte) error {
	if mt != core.BinaryMessage || len(data) == 0 {
		return nil
	}
	switch data[0] {
	case opPublish:
		_, _ = s.hub.To(c.Param("room")).SendBinary(data)
	case opEcho:
		_ = c.SendBinary(data)
	}
	return nil
}

func (s *rushwsServer) sub(c *core.Conn) error {
	c.OnMessage(s.onMessage)
	return c.Join(c.Param("room"))
}

func (s *rushwsServer) pub(c *core.Conn) error {
	c.OnMessage(s.onMessage)
	return nil
}

func (s *rushwsServer) handler() http.Handler {
	switch s.mount {
	case "rushws-echo":
		e := echo.New()
		e.HideBanner, e.HidePort = true, true
		e.GET("/sub/:room", echows.Handler(s.hub, s.sub))
		e.GET("/ws/:room", echows.Handler(s.hub, s.sub))
		e.GET("/pub/:room", echows.Handler(s.hub, s.pub))
		return e
	case "rushws-gin":
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		r.GET("/sub/:room", ginws.Handler(s.hub, s.sub))
		r.GET("/ws/:room", ginws.Handler(s.hub, s.sub))
		r.GET("/pub/:room", ginws.Handler(s.hub, s.pub))
		return r
	}
	mux := http.NewServeMux()
	mux.Handle("GET /sub/{room}", s.hub.Handler(s.sub))
	mux.Handle("GET /ws/{room}", s.hub.Handler(s.sub))
	mux.Handle("GET /pub/{room}", s.hub.Handler(s.pub))
	return mux
}

func (s *rushwsServer) conns() int { return s.hub.Len() }

func (s *rushwsServer) drops() uint64 { return s.hub.Stats().Drops }

func (s *rushwsServer) slowCloses() uint64 { return s.hub.Stats().SlowCloses }
