package ginws_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/internal/adaptertest"
)

var jwtKey = []byte("test-secret-key")

func signToken(t *testing.T, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub,
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(jwtKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// requireJWT is the Gin middleware an existing app protects its API group
// with: it verifies the bearer token and stores it under "user".
func requireJWT(c *gin.Context) {
	raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"message": "missing token"})
		return
	}
	token, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return jwtKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"message": "invalid token"})
		return
	}
	c.Set("user", token)
	c.Next()
}

// whoHandler is a route handler that reads the claims with c.Get("user"),
// greets with the subject, and answers "whoami" with it from then on.
func whoHandler(c *core.Conn) error {
	token, ok := c.Get("user").(*jwt.Token)
	if !ok {
		return fmt.Errorf("no token in c.Get(\"user\"): %T", c.Get("user"))
	}
	sub, err := token.Claims.GetSubject()
	if err != nil {
		return err
	}
	if err := c.On("whoami", func(c *core.Conn, _ json.RawMessage) (any, error) {
		token, _ := c.Get("user").(*jwt.Token)
		sub, _ := token.Claims.GetSubject()
		return nil, c.Emit("me", sub)
	}); err != nil {
		return err
	}
	return c.Emit("welcome", sub)
}

// TestWSInsideAuthGroup is an existing Gin app adding a WebSocket route in
// one line inside a group protected by its own JWT middleware: the route
// handler reads the claims with c.Get("user"), every connection keeps its
// own after Gin reuses its pooled context, and requests without a valid
// token are refused by the group before the hub sees them.
func TestWSInsideAuthGroup(t *testing.T) {
	hub, _ := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	api := r.Group("/api", requireJWT)
	if routes := ginws.WS(api, "/chat/:room", hub, whoHandler); routes != api {
		t.Errorf("WS returned %v, want the group it registered on", routes)
	}
	srv, errLog := adaptertest.StartServer(t, r)

	const users = 12
	conns := make([]*websocket.Conn, users)
	for i := range conns {
		sub := fmt.Sprintf("user-%d", i)
		ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/api/chat/lobby"), http.Header{"Authorization": {"Bearer " + signToken(t, sub)}})
		var got string
		adaptertest.ExpectEvent(t, ws, "welcome", &got)
		if got != sub {
			t.Fatalf("connection %d: welcome %q, want %q", i, got, sub)
		}
		conns[i] = ws
	}
	for i, ws := range conns {
		adaptertest.MustEmit(t, ws, "whoami", nil)
		var got string
		adaptertest.ExpectEvent(t, ws, "me", &got)
		if want := fmt.Sprintf("user-%d", i); got != want {
			t.Errorf("connection %d: c.Get(\"user\") is %q after later requests, want %q", i, got, want)
		}
	}
	for name, h := range map[string]http.Header{
		"no token":  nil,
		"bad token": {"Authorization": {"Bearer " + signToken(t, "mallory") + "x"}},
	} {
		_, resp, err := adaptertest.TryDial(adaptertest.WSURL(srv, "/api/chat/lobby"), h)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: dial error %v, want 401 from the group", name, err)
		}
	}
	if st := hub.Stats(); len(st.Rejected) != 0 || st.Accepted != users {
		t.Errorf("Stats: rejected %v accepted %d, want none and %d", st.Rejected, st.Accepted, users)
	}
	for _, ws := range conns {
		adaptertest.CloseClient(ws)
	}
	adaptertest.WaitNoConnections(t, hub)
	adaptertest.NoHijackNoise(t, errLog, nil)
}

// TestKeys checks which Gin values reach the connection: every string key,
// not keys of other types.
func TestKeys(t *testing.T) {
	type ctxKey struct{}
	hub, _ := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Set("user", "alice")
		c.Set("tenant", "acme")
		c.Set(ctxKey{}, "typed")
	})
	ginws.WS(r, "/ws", hub, func(c *core.Conn) error {
		return c.Emit("values", map[string]any{"user": c.Get("user"), "tenant": c.Get("tenant")})
	})
	srv, _ := adaptertest.StartServer(t, r)
	ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/ws"), nil)
	var got map[string]any
	adaptertest.ExpectEvent(t, ws, "values", &got)
	if got["user"] != "alice" || got["tenant"] != "acme" {
		t.Errorf("connection values = %v, want user alice, tenant acme", got)
	}
	adaptertest.CloseClient(ws)
	adaptertest.WaitNoConnections(t, hub)
}

// TestRawPathParams: with r.UseRawPath, Gin matches the escaped path and a
// room "a%2Fb" arrives as "a/b", as under Echo and net/http; with
// UnescapePathValues off, ginws decodes it itself, once.
func TestRawPathParams(t *testing.T) {
	for _, unescape := range []bool{true, false} {
		t.Run("UnescapePathValues="+strconv.FormatBool(unescape), func(t *testing.T) {
			hub, _ := adaptertest.NewHub(t, core.Config{})
			r := gin.New()
			r.UseRawPath = true
			r.UnescapePathValues = unescape
			ginws.WS(r, "/ws/:room", hub, adaptertest.Chat)
			srv, _ := adaptertest.StartServer(t, r)
			ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/ws/a%2Fb%2525"), nil)
			var w adaptertest.Welcome
			adaptertest.ExpectEvent(t, ws, "welcome", &w)
			if w.Params["room"] != "a/b%25" {
				t.Errorf("room = %q, want a/b%%25", w.Params["room"])
			}
			adaptertest.CloseClient(ws)
			adaptertest.WaitNoConnections(t, hub)
		})
	}
}

// TestUpgradeAfterWriteHeaderNow: once a middleware has called
// c.Writer.WriteHeaderNow, net/http has sent a status line and no upgrade
// can follow. The handshake fails for the client with that status, the
// hub counts no connection, and the cause is in c.Errors for Gin's Logger.
func TestUpgradeAfterWriteHeaderNow(t *testing.T) {
	hub, _ := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	var mu sync.Mutex
	var ginErrs []string
	r.Use(func(c *gin.Context) {
		c.Next()
		mu.Lock()
		ginErrs = append(ginErrs, c.Errors.String())
		mu.Unlock()
	}, func(c *gin.Context) {
		c.Writer.WriteHeaderNow()
	})
	ginws.WS(r, "/ws/:room", hub, adaptertest.Chat)
	srv, errLog := adaptertest.StartServer(t, r)

	ws, resp, err := adaptertest.TryDial(adaptertest.WSURL(srv, "/ws/lobby"), nil)
	if err == nil {
		_ = ws.Close()
		t.Fatal("dial succeeded after WriteHeaderNow, want a failed handshake")
	}
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("dial: %v, want the 200 the middleware wrote", err)
	}
	errLog.WaitIdle(t)
	mu.Lock()
	defer mu.Unlock()
	if len(ginErrs) != 1 || !strings.Contains(ginErrs[0], `cannot upgrade "/ws/:room"`) || !strings.Contains(ginErrs[0], "already wrote the response (status 200)") {
		t.Errorf("c.Errors = %q, want the cause named", ginErrs)
	}
	if st := hub.Stats(); st.Accepted != 0 || st.Connections != 0 {
		t.Errorf("Stats: accepted %d connections %d, want none", st.Accepted, st.Connections)
	}
	adaptertest.NoHijackNoise(t, errLog, nil)
}

// TestGinVersion keeps Gin at v1.12.0 or later: v1.11.0 refused to hijack
// a connection once its headers were marked written.
func TestGinVersion(t *testing.T) {
	var major, minor int
	if _, err := fmt.Sscanf(gin.Version, "v%d.%d.", &major, &minor); err != nil {
		t.Fatalf("gin.Version %q: %v", gin.Version, err)
	}
	if major < 1 || major == 1 && minor < 12 {
		t.Errorf("gin %s, want v1.12.0 or later", gin.Version)
	}
}
