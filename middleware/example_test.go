package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/middleware"
	"github.com/rushws/rushws/wstest"
	"golang.org/x/time/rate"
)

var secret = []byte("an example secret of 32 bytes...")

// chat is the route handler of the examples: it greets the user named by
// the token's "sub".
func chat(c *core.Conn) error {
	claims := c.Get("user").(*jwt.Token).Claims.(jwt.MapClaims)
	return c.Emit("welcome", claims["sub"])
}

// dial connects to srv like a browser page at origin would, with a token in
// the subprotocol list, and prints the outcome.
func dial(srv *httptest.Server, origin, token string) {
	opts := []wstest.Option{wstest.WithTimeout(5 * time.Second)}
	if origin != "" {
		opts = append(opts, wstest.WithOrigin(origin))
	}
	if token != "" {
		opts = append(opts, wstest.WithSubprotocols("chat.v1", "bearer."+token))
	}
	c, resp, err := wstest.TryDial(context.Background(), srv.URL+"/ws", opts...)
	if err != nil {
		if resp == nil {
			fmt.Println(err)
			return
		}
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Println("refused:", resp.Status, "retry after", ra)
			return
		}
		fmt.Println("refused:", resp.Status)
		return
	}
	defer c.Close()
	var name string
	c.ExpectInto("welcome", &name)
	fmt.Printf("welcome %s (protocol %s)\n", name, c.Conn().Subprotocol())
}

func token(sub string, ttl time.Duration) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(ttl).Unix(),
	}).SignedString(secret)
	if err != nil {
		panic(err)
	}
	return s
}

// Browsers cannot set headers on a WebSocket, so they send the token as a
// subprotocol entry: new WebSocket(url, ["chat.v1", "bearer." + token]).
// The server selects "chat.v1" and never echoes the token.
func ExampleJWT() {
	auth, err := middleware.JWT(middleware.JWTConfig{SigningKey: secret})
	if err != nil {
		log.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{Subprotocols: []string{"chat.v1"}})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	e := echo.New()
	e.GET("/ws", echows.Handler(hub, chat, auth))
	srv := httptest.NewServer(e)
	defer srv.Close()

	dial(srv, "", token("alice", time.Hour))
	dial(srv, "", token("mallory", -time.Hour))
	dial(srv, "", "")
	fmt.Println("unauthorized:", hub.Stats().Rejected["unauthorized"])
	// Output:
	// welcome alice (protocol chat.v1)
	// refused: 401 Unauthorized
	// refused: 401 Unauthorized
	// unauthorized: 2
}

func ExampleOrigin() {
	origin, err := middleware.Origin(middleware.OriginConfig{
		AllowOrigins: []string{"https://app.example.com", "https://*.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := middleware.JWT(middleware.JWTConfig{SigningKey: secret})
	if err != nil {
		log.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{Subprotocols: []string{"chat.v1"}})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/ws", ginws.Handler(hub, chat, origin, auth))
	srv := httptest.NewServer(r)
	defer srv.Close()

	tok := token("alice", time.Hour)
	dial(srv, "https://app.example.com", tok)
	dial(srv, "https://eu.example.com", tok)
	dial(srv, "https://app.example.com.evil.com", tok)
	dial(srv, "null", tok)
	fmt.Println("origin:", hub.Stats().Rejected["origin"])
	// Output:
	// welcome alice (protocol chat.v1)
	// welcome alice (protocol chat.v1)
	// refused: 403 Forbidden
	// refused: 403 Forbidden
	// origin: 2
}

func ExampleNewRateLimiter() {
	limiter, err := middleware.NewRateLimiter(middleware.RateLimitConfig{
		HandshakeRate:  rate.Every(time.Minute), // per client IP
		HandshakeBurst: 2,
		MaxPerKey:      10,
		MessageRate:    20, // per connection
	})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := middleware.JWT(middleware.JWTConfig{SigningKey: secret})
	if err != nil {
		log.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{Subprotocols: []string{"chat.v1"}})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	hub.Use(limiter.Middleware(), auth) // every route of the hub
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect() // see "Client IPs and trusted proxies"
	e.GET("/ws", echows.Handler(hub, chat))
	srv := httptest.NewServer(e)
	defer srv.Close()

	for range 3 {
		dial(srv, "", token("alice", time.Hour))
	}
	fmt.Println("rate_limited:", hub.Stats().Rejected["rate_limited"], "keys:", limiter.Len())
	// Output:
	// welcome alice (protocol chat.v1)
	// welcome alice (protocol chat.v1)
	// refused: 429 Too Many Requests retry after 60
	// rate_limited: 1 keys: 1
}

func ExampleRateLimit() {
	// Keyed by user: JWT runs first and stores the token under "user".
	auth, err1 := middleware.JWT(middleware.JWTConfig{SigningKey: secret})
	limit, err2 := middleware.RateLimit(middleware.RateLimitConfig{
		MaxPerKey: 2,
		KeyFunc: func(c *core.Conn) string {
			sub, _ := c.Get("user").(*jwt.Token).Claims.GetSubject()
			return sub
		},
	})
	hub, err3 := core.NewHub(core.Config{})
	if err := errors.Join(err1, err2, err3); err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	e := echo.New()
	e.GET("/ws", echows.Handler(hub, chat, auth, limit))
	srv := httptest.NewServer(e)
	defer srv.Close()

	for _, user := range []string{"alice", "alice", "alice", "bob"} {
		h := http.Header{"Authorization": {"Bearer " + token(user, time.Hour)}}
		c, resp, err := wstest.TryDial(context.Background(), srv.URL+"/ws", wstest.WithHeader(h))
		if err != nil {
			fmt.Println(user, "refused:", resp.Status)
			continue
		}
		defer c.Close() // stays connected until the example ends
		fmt.Println(user, "connected")
	}
	fmt.Println("too_many_connections:", hub.Stats().Rejected["too_many_connections"])
	// Output:
	// alice connected
	// alice connected
	// alice refused: 429 Too Many Requests
	// bob connected
	// too_many_connections: 1
}

// Example_echo is the README's "drop-in auth" for Echo, compiled here so
// it stays correct.
func Example_echo() {
	hub, err := core.NewHub(core.Config{Subprotocols: []string{"chat.v1"}})
	origin, err1 := middleware.Origin(middleware.OriginConfig{AllowOrigins: []string{"https://app.example.com"}})
	limit, err2 := middleware.RateLimit(middleware.RateLimitConfig{MaxPerKey: 10})
	auth, err3 := middleware.JWT(middleware.JWTConfig{SigningKey: []byte(os.Getenv("JWT_SECRET"))})
	if err := errors.Join(err, err1, err2, err3); err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect() // behind a proxy: echo.ExtractIPFromXFFHeader(echo.TrustIPRange(proxyNet))
	e.GET("/ws", echows.Handler(hub, func(c *core.Conn) error {
		claims := c.Get("user").(*jwt.Token).Claims.(jwt.MapClaims)
		return c.Emit("welcome", claims["sub"])
	}, origin, limit, auth))
	e.Logger.Fatal(e.Start(":8080"))
}

// Example_gin is the README's "drop-in auth" for Gin, compiled here so it
// stays correct.
func Example_gin() {
	hub, err := core.NewHub(core.Config{Subprotocols: []string{"chat.v1"}})
	origin, err1 := middleware.Origin(middleware.OriginConfig{AllowOrigins: []string{"https://app.example.com"}})
	limit, err2 := middleware.RateLimit(middleware.RateLimitConfig{MaxPerKey: 10})
	auth, err3 := middleware.JWT(middleware.JWTConfig{SigningKey: []byte(os.Getenv("JWT_SECRET"))})
	if err := errors.Join(err, err1, err2, err3); err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	_ = r.SetTrustedProxies(nil) // behind a proxy: its addresses
	r.GET("/ws", ginws.Handler(hub, func(c *core.Conn) error {
		claims := c.Get("user").(*jwt.Token).Claims.(jwt.MapClaims)
		return c.Emit("welcome", claims["sub"])
	}, origin, limit, auth))
	log.Fatal(r.Run(":8080"))
}
