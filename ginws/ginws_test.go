package ginws_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/internal/adaptertest"
	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// TestRouterMethodNotAllowed covers r.HandleMethodNotAllowed: Gin's
// router then answers a POST on a GET route with 405 before the adapter
// runs, and the hub never sees it. The contract covers Gin's default, 404.
func TestRouterMethodNotAllowed(t *testing.T) {
	t.Parallel()
	hub, _ := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
	srv, _ := adaptertest.StartServer(t, r)
	resp, body := adaptertest.Handshake(t, srv, http.MethodPost, "/ws/lobby", true, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status = %d, want 405 (body %s)", resp.StatusCode, body)
	}
	if st := hub.Stats(); len(st.Rejected) != 0 || st.Accepted != 0 {
		t.Errorf("Stats: rejected %v accepted %d, want none", st.Rejected, st.Accepted)
	}
}

func TestGinMiddleware(t *testing.T) {
	t.Parallel()
	mount := func(setup func(r *gin.Engine, mwLog io.Writer)) func(*testing.T, *core.Hub, io.Writer) (http.Handler, *wstest.LogBuffer) {
		return func(t *testing.T, hub *core.Hub, mwLog io.Writer) (http.Handler, *wstest.LogBuffer) {
			r := gin.New()
			setup(r, mwLog)
			r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
			return r, nil
		}
	}
	adaptertest.RunFront(t, []adaptertest.Front{
		{
			Name:  "Logger",
			Mount: mount(func(r *gin.Engine, w io.Writer) { r.Use(gin.LoggerWithWriter(w)) }),
			Check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, `"/ws/lobby"`) {
					t.Errorf("Logger did not log the handshake:\n%s", log)
				}
			},
		},
		{
			Name:  "Recovery",
			Mount: mount(func(r *gin.Engine, w io.Writer) { r.Use(gin.RecoveryWithWriter(w)) }),
		},
		{
			Name: "Logger and Recovery, as gin.Default",
			Mount: mount(func(r *gin.Engine, w io.Writer) {
				r.Use(gin.LoggerWithWriter(w), gin.RecoveryWithWriter(w))
			}),
		},
		{
			Name:   "gzip",
			Mount:  mount(func(r *gin.Engine, _ io.Writer) { r.Use(gzip.Gzip(gzip.DefaultCompression)) }),
			Header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			Check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			Name:      "gzip, lowercase Connection header",
			Mount:     mount(func(r *gin.Engine, _ io.Writer) { r.Use(gzip.Gzip(gzip.DefaultCompression)) }),
			Header:    http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			Lowercase: true,
			Check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
	})
}

// TestLoggerRecordsSwitchingProtocols checks that Gin's access log and any
// middleware after c.Next see the 101 that went out, as Echo's do.
func TestLoggerRecordsSwitchingProtocols(t *testing.T) {
	t.Parallel()
	hub, _ := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	ginLog := &wstest.LogBuffer{}
	var mu sync.Mutex
	status := 0
	r.Use(gin.LoggerWithWriter(ginLog), func(c *gin.Context) {
		c.Next()
		mu.Lock()
		status = c.Writer.Status()
		mu.Unlock()
	})
	r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
	srv, errLog := adaptertest.StartServer(t, r)

	ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/ws/lobby"), nil)
	adaptertest.ExpectEvent(t, ws, "welcome", nil)
	adaptertest.CloseClient(ws)
	adaptertest.WaitNoConnections(t, hub)
	errLog.WaitIdle(t)
	mu.Lock()
	defer mu.Unlock()
	if status != http.StatusSwitchingProtocols {
		t.Errorf("c.Writer.Status() after the upgrade = %d, want 101", status)
	}
	if log := ginLog.String(); !strings.Contains(log, "| 101 |") {
		t.Errorf("Gin's Logger did not log status 101:\n%s", log)
	}
}
