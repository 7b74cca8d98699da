package echows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/internal/adaptertest"
	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newEcho returns an Echo app whose own logger writes into the returned
// buffer rather than to stdout.
func newEcho(t *testing.T) (*echo.Echo, *wstest.LogBuffer) {
	t.Helper()
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	logs := &wstest.LogBuffer{}
	e.Logger.SetOutput(logs)
	return e, logs
}

func TestEchoMiddleware(t *testing.T) {
	key := []byte("test-secret-key")
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		// setup installs the middleware; mwLog collects what it logs.
		setup  func(e *echo.Echo, mwLog io.Writer)
		header http.Header
		// dialer, when set, replaces websocket.DefaultDialer.
		dialer *websocket.Dialer
		// check inspects the 101 response and the middleware's log.
		check func(t *testing.T, resp *http.Response, mwLog string)
		// refused, when set, is a request the middleware must refuse.
		refused *refusal
	}{
		{
			name: "Logger",
			setup: func(e *echo.Echo, w io.Writer) {
				//lint:ignore SA1019 users still mount the classic Logger; it must coexist.
				e.Use(middleware.LoggerWithConfig(middleware.LoggerConfig{Output: w}))
			},
			check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, `"status":101`) {
					t.Errorf("Logger did not log status 101:\n%s", log)
				}
			},
		},
		{
			name: "RequestLogger",
			setup: func(e *echo.Echo, w io.Writer) {
				e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
					LogStatus: true,
					LogURI:    true,
					LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
						_, err := fmt.Fprintf(w, "uri=%s status=%d\n", v.URI, v.Status)
						return err
					},
				}))
			},
			check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, "status=101") {
					t.Errorf("RequestLogger did not log status 101:\n%s", log)
				}
			},
		},
		{
			name:  "Recover",
			setup: func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Recover()) },
		},
		{
			name:  "RequestID",
			setup: func(e *echo.Echo, _ io.Writer) { e.Use(middleware.RequestID()) },
			check: func(t *testing.T, resp *http.Response, _ string) {
				if resp.Header.Get(echo.HeaderXRequestID) == "" {
					t.Error("no X-Request-Id on the 101")
				}
			},
		},
		{
			name:   "CORS",
			setup:  func(e *echo.Echo, _ io.Writer) { e.Use(middleware.CORS()) },
			header: http.Header{"Origin": {"SAME-ORIGIN"}},
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get(echo.HeaderAccessControlAllowOrigin); got != "*" {
					t.Errorf("Access-Control-Allow-Origin on the 101 = %q, want *", got)
				}
			},
		},
		{
			name:   "Gzip",
			setup:  func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Gzip()) },
			header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			name:   "Gzip, lowercase Connection header",
			setup:  func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Gzip()) },
			header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			dialer: lowercaseDialer(),
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			name:  "ContextTimeout",
			setup: func(e *echo.Echo, _ io.Writer) { e.Use(middleware.ContextTimeout(2 * time.Second)) },
		},
		{
			name: "echo-jwt",
			setup: func(e *echo.Echo, _ io.Writer) {
				e.Use(echojwt.WithConfig(echojwt.Config{SigningKey: key}))
			},
			header:  http.Header{"Authorization": {"Bearer " + token}},
			refused: &refusal{header: nil, status: http.StatusUnauthorized, message: "missing or malformed jwt"},
		},
		{
			name: "echo-jwt bad token",
			setup: func(e *echo.Echo, _ io.Writer) {
				e.Use(echojwt.WithConfig(echojwt.Config{SigningKey: key}))
			},
			header: http.Header{"Authorization": {"Bearer " + token}},
			refused: &refusal{header: http.Header{"Authorization": {"Bearer " + token[:len(token)-2] + "xx"}},
				status: http.StatusUnauthorized, message: "invalid or expired jwt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := adaptertest.NewHub(t, core.Config{})
			e, echoLog := newEcho(t)
			mwLog := &wstest.LogBuffer{}
			tt.setup(e, mwLog)
			e.GET("/ws/:room", echows.Handler(hub, adaptertest.Chat))
			srv, errLog := adaptertest.StartServer(t, e)

			h := http.Header{}
			for k, vs := range tt.header {
				h[k] = vs
			}
			if h.Get("Origin") == "SAME-ORIGIN" {
				h.Set("Origin", srv.URL)
			}
			d := websocket.DefaultDialer
			if tt.dialer != nil {
				d = tt.dialer
			}
			ctx, cancel := context.WithTimeout(context.Background(), adaptertest.WaitTimeout)
			defer cancel()
			ws, resp, err := d.DialContext(ctx, adaptertest.WSURL(srv, "/ws/lobby"), h)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { _ = ws.Close() })
			adaptertest.ExpectEvent(t, ws, "welcome", nil)
			adaptertest.Exchange(t, ws)
			adaptertest.CloseClient(ws)
			adaptertest.WaitNoConnections(t, hub)

			if tt.refused != nil {
				_, resp, err := adaptertest.TryDial(adaptertest.WSURL(srv, "/ws/lobby"), tt.refused.header)
				if err == nil || resp == nil {
					t.Fatalf("dial without a valid token: err %v, want refused", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tt.refused.status || !strings.Contains(string(body), tt.refused.message) {
					t.Errorf("refused dial: status %d body %s, want %d %q", resp.StatusCode, body, tt.refused.status, tt.refused.message)
				}
				if st := hub.Stats(); len(st.Rejected) != 0 || st.Accepted != 1 {
					t.Errorf("Stats after a refusal by Echo middleware: rejected %v accepted %d, want none and 1", st.Rejected, st.Accepted)
				}
			}
			errLog.WaitIdle(t) // access logs are written when the handler returns
			if tt.check != nil {
				tt.check(t, resp, mwLog.String())
			}
			adaptertest.NoHijackNoise(t, errLog, map[string]*wstest.LogBuffer{"Echo logger": echoLog, "middleware log": mwLog})
		})
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

// lowercaseDialer dials through lowercaseUpgrade.
func lowercaseDialer() *websocket.Dialer {
	return &websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &lowercaseUpgrade{Conn: c}, nil
		},
	}
}

type refusal struct {
	header  http.Header
	status  int
	message string
}

func TestTimeoutMiddlewareHidesHijacker(t *testing.T) {
	hub, hubLog := adaptertest.NewHub(t, core.Config{})
	e, echoLog := newEcho(t)
	//lint:ignore SA1019 the deprecated Timeout is what hides http.Hijacker; this is the case under test.
	e.Use(middleware.TimeoutWithConfig(middleware.TimeoutConfig{Timeout: 3 * time.Second}))
	e.GET("/ws/:room", echows.Handler(hub, adaptertest.Chat))
	srv, errLog := adaptertest.StartServer(t, e)

	ws, resp, err := adaptertest.TryDial(adaptertest.WSURL(srv, "/ws/lobby"), nil)
	if err == nil {
		_ = ws.Close()
		t.Fatal("handshake succeeded behind Timeout, want 500")
	}
	if resp == nil {
		t.Fatalf("dial error %v with no response, want HTTP 500", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500 (body %s)", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Errorf("body %q is not JSON: %v", body, err)
	} else if got["status"] != float64(500) {
		t.Errorf("body = %v, want status 500", got)
	}
	errLog.WaitIdle(t)
	if logs := hubLog.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "hijack") {
		t.Errorf("hub log does not name the hijack problem:\n%s", logs)
	}
	if n := hub.Stats().Rejected["hijack"]; n != 1 {
		t.Errorf("Rejected = %v, want hijack: 1", hub.Stats().Rejected)
	}
	if st := hub.Stats(); st.Connections != 0 || st.Accepted != 0 {
		t.Errorf("Stats: %d connections, %d accepted, want none", st.Connections, st.Accepted)
	}
	for name, buf := range map[string]fmt.Stringer{"http.Server": errLog, "Echo logger": echoLog, "hub": hubLog} {
		if s := buf.String(); strings.Contains(s, "hijacked connection") {
			t.Errorf("%s logged hijack noise:\n%s", name, s)
		}
	}
}
