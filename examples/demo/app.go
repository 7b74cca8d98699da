package main

import (
	"bytes"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	wsmw "github.com/rushws/rushws/middleware"
)

// Subprotocol is the protocol the page asks for; the token rides beside it
// as "bearer.<token>".
const Subprotocol = "rushws-demo.v1"

// issuer is the "iss" of the demo's tokens; others are refused.
const issuer = "rushws-demo"

//go:embed static
var static embed.FS

// Config is what newApp needs.
type Config struct {
	// Origins are the allowed page origins (scheme://host:port). Required.
	Origins []string
	// Key signs and verifies tokens (HS256). Required, at least 32 bytes.
	Key []byte
	// TokenTTL is the lifetime of issued tokens. Optional. Default 15
	// minutes.
	TokenTTL time.Duration
	// Logger receives the app's logs. Optional. Default slog.Default().
	Logger *slog.Logger
	// now is the clock of the token endpoint, replaced by tests.
	now func() time.Time
}

// newApp builds the Echo app and its hub without listening, so tests can
// serve it on httptest. The caller owns the hub and shuts it down.
func newApp(cfg Config) (*echo.Echo, *core.Hub, error) {
	if len(cfg.Key) < 32 {
		return nil, nil, errors.New("demo: Config.Key must be at least 32 bytes")
	}
	if len(cfg.Origins) == 0 {
		return nil, nil, errors.New("demo: Config.Origins is empty: list the page's origin")
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 15 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	logger := cfg.Logger

	hub, err := core.NewHub(core.Config{
		Logger:       logger,
		Subprotocols: []string{Subprotocol},
		ReadLimit:    16 << 10,
		// Recovery in the process's memory (a MemoryStore): a page that
		// loses its connection gets its room back and what it missed.
		Recovery: core.RecoveryConfig{Enabled: true},
	})
	if err != nil {
		return nil, nil, err
	}
	origin, err1 := wsmw.Origin(wsmw.OriginConfig{AllowOrigins: cfg.Origins, DenyMissingOrigin: false})
	limit, err2 := wsmw.RateLimit(wsmw.RateLimitConfig{HandshakeRate: 5, HandshakeBurst: 30, MaxPerKey: 50, MessageRate: 20, MessageBurst: 40})
	auth, err3 := wsmw.JWT(wsmw.JWTConfig{
		SigningKey:     cfg.Key,
		Issuer:         issuer,
		TokenLookup:    "subprotocol",
		CloseOnFailure: true, // the page reads 4401 and the reason; a refused handshake is a bare 1006
		// Anonymous visitors may connect (for the echo box); a token that
		// is there but expired or forged is refused.
		ErrorHandler: func(c *core.Conn, err error) error {
			switch {
			case errors.Is(err, wsmw.ErrTokenMissing):
				return nil
			case errors.Is(err, jwt.ErrTokenExpired):
				return core.NewHTTPError(http.StatusUnauthorized, "token expired")
			default:
				return core.NewHTTPError(http.StatusUnauthorized, "invalid token")
			}
		},
		ContinueOnIgnoredError: true,
	})
	if err := errors.Join(err1, err2, err3); err != nil {
		_ = hub.Close()
		return nil, nil, err
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = echo.ExtractIPDirect() // clients connect directly; behind a proxy, trust its range only
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:  true,
		LogURIPath: true, // the path only: query strings may carry credentials
		LogStatus:  true,
		LogLatency: true,
		LogError:   true,
		Skipper: func(c echo.Context) bool { // the stats panel polls every second
			return strings.HasPrefix(c.Path(), "/api/ws/")
		},
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []any{"method", v.Method, "path", v.URIPath, "status", v.Status, "latency", v.Latency}
			if v.Error != nil {
				attrs = append(attrs, "err", v.Error)
			}
			logger.Info("request", attrs...)
			return nil
		},
	}))
	e.Use(middleware.Recover())
	e.Use(middleware.BodyLimit("4K"))

	page, err := static.ReadFile("static/index.html")
	if err != nil {
		return nil, nil, err
	}
	page = bytes.ReplaceAll(page, []byte("{{version}}"), []byte(client.Version()))
	script, err := static.ReadFile("static/demo.js")
	if err != nil {
		return nil, nil, err
	}
	script = bytes.ReplaceAll(script, []byte("{{version}}"), []byte(client.Version()))
	e.GET("/", func(c echo.Context) error {
		securityHeaders(c.Response().Header())
		return c.HTMLBlob(http.StatusOK, page)
	})
	e.GET("/demo.js", func(c echo.Context) error {
		securityHeaders(c.Response().Header())
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", script)
	})
	e.GET("/rushws.js", echo.WrapHandler(client.Handler()))
	e.POST("/api/token", tokenHandler(cfg))
	e.GET("/ws", echows.Handler(hub, chat, origin, limit, auth))
	e.GET("/api/ws/stats", echo.WrapHandler(core.StatsHandler(hub)))
	e.GET("/api/ws/rooms", echo.WrapHandler(core.RoomsHandler(hub)))
	return e, hub, nil
}

// securityHeaders keeps the page to its own scripts and connections.
func securityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
}
