package ginws_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/internal/adaptertest"
)

// TestKeys checks which Gin values reach the connection: every string key,
// not keys of other types.
func TestKeys(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	for _, unescape := range []bool{true, false} {
		t.Run("UnescapePathValues="+strconv.FormatBool(unescape), func(t *testing.T) {
			t.Parallel()
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

// TestGinVersion keeps Gin at v1.12.0 or later: v1.11.0 refused to hijack
// a connection once its headers were marked written.
func TestGinVersion(t *testing.T) {
	t.Parallel()
	var major, minor int
	if _, err := fmt.Sscanf(gin.Version, "v%d.%d.", &major, &minor); err != nil {
		t.Fatalf("gin.Version %q: %v", gin.Version, err)
	}
	if major < 1 || major == 1 && minor < 12 {
		t.Errorf("gin %s, want v1.12.0 or later", gin.Version)
	}
}
