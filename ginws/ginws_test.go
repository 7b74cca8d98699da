package ginws_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
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

// lowercaseUpgrade rewrites the client's "Connection: Upgrade" to the
// equally valid "Connection: upgrade" (header values are case-insensitive),
// as nginx's usual WebSocket proxy configuration sends it.
type lowercaseUpgrade struct {
	net.Conn
	once sync.Once
}

func (c *lowercaseUpgrade) Write(p []byte) (int, error) {
	n := len(p)
	c.once.Do(func() {
		p = bytes.Replace(p, []byte("Connection: Upgrade\r\n"), []byte("Connection: upgrade\r\n"), 1)
	})
	if _, err := c.Conn.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

func TestGinMiddleware(t *testing.T) {
	lowercase := &websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &lowercaseUpgrade{Conn: c}, nil
		},
	}
	tests := []struct {
		name   string
		setup  func(r *gin.Engine, mwLog io.Writer)
		header http.Header
		dialer *websocket.Dialer
		check  func(t *testing.T, resp *http.Response, mwLog string)
	}{
		{
			name:  "Logger",
			setup: func(r *gin.Engine, w io.Writer) { r.Use(gin.LoggerWithWriter(w)) },
			check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, `"/ws/lobby"`) {
					t.Errorf("Logger did not log the handshake:\n%s", log)
				}
			},
		},
		{
			name:  "Recovery",
			setup: func(r *gin.Engine, w io.Writer) { r.Use(gin.RecoveryWithWriter(w)) },
		},
		{
			name: "Logger and Recovery, as gin.Default",
			setup: func(r *gin.Engine, w io.Writer) {
				r.Use(gin.LoggerWithWriter(w), gin.RecoveryWithWriter(w))
			},
		},
		{
			name:   "gzip",
			setup:  func(r *gin.Engine, _ io.Writer) { r.Use(gzip.Gzip(gzip.DefaultCompression)) },
			header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			name:   "gzip, lowercase Connection header",
			setup:  func(r *gin.Engine, _ io.Writer) { r.Use(gzip.Gzip(gzip.DefaultCompression)) },
			header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			dialer: lowercase,
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := adaptertest.NewHub(t, core.Config{})
			r := gin.New()
			mwLog := &wstest.LogBuffer{}
			tt.setup(r, mwLog)
			r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
			srv, errLog := adaptertest.StartServer(t, r)

			d := websocket.DefaultDialer
			if tt.dialer != nil {
				d = tt.dialer
			}
			ctx, cancel := context.WithTimeout(context.Background(), adaptertest.WaitTimeout)
			defer cancel()
			ws, resp, err := d.DialContext(ctx, adaptertest.WSURL(srv, "/ws/lobby"), tt.header)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { _ = ws.Close() })
			adaptertest.ExpectEvent(t, ws, "welcome", nil)
			adaptertest.Exchange(t, ws)
			adaptertest.CloseClient(ws)
			adaptertest.WaitNoConnections(t, hub)

			errLog.WaitIdle(t) // access logs are written when the handler returns
			if tt.check != nil {
				tt.check(t, resp, mwLog.String())
			}
			if s := mwLog.String(); strings.Contains(s, "panic") {
				t.Errorf("middleware logged a panic:\n%s", s)
			}
			adaptertest.NoHijackNoise(t, errLog, map[string]*wstest.LogBuffer{"middleware log": mwLog})
		})
	}
}

// TestLoggerRecordsSwitchingProtocols checks that Gin's access log and any
// middleware after c.Next see the 101 that went out, as Echo's do.
func TestLoggerRecordsSwitchingProtocols(t *testing.T) {
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
