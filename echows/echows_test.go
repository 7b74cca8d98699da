package echows_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	t.Parallel()
	key := []byte("test-secret-key")
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}

	mount := func(setup func(e *echo.Echo, mwLog io.Writer)) func(*testing.T, *core.Hub, io.Writer) (http.Handler, *wstest.LogBuffer) {
		return func(t *testing.T, hub *core.Hub, mwLog io.Writer) (http.Handler, *wstest.LogBuffer) {
			e, echoLog := newEcho(t)
			setup(e, mwLog)
			e.GET("/ws/:room", echows.Handler(hub, adaptertest.Chat))
			return e, echoLog
		}
	}
	adaptertest.RunFront(t, []adaptertest.Front{
		{
			Name: "Logger",
			Mount: mount(func(e *echo.Echo, w io.Writer) {
				//lint:ignore SA1019 users still mount the classic Logger; it must coexist.
				e.Use(middleware.LoggerWithConfig(middleware.LoggerConfig{Output: w}))
			}),
			Check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, `"status":101`) {
					t.Errorf("Logger did not log status 101:\n%s", log)
				}
			},
		},
		{
			Name: "RequestLogger",
			Mount: mount(func(e *echo.Echo, w io.Writer) {
				e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
					LogStatus: true,
					LogURI:    true,
					LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
						_, err := fmt.Fprintf(w, "uri=%s status=%d\n", v.URI, v.Status)
						return err
					},
				}))
			}),
			Check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, "status=101") {
					t.Errorf("RequestLogger did not log status 101:\n%s", log)
				}
			},
		},
		{
			Name:  "Recover",
			Mount: mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Recover()) }),
		},
		{
			Name:  "RequestID",
			Mount: mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.RequestID()) }),
			Check: func(t *testing.T, resp *http.Response, _ string) {
				if resp.Header.Get(echo.HeaderXRequestID) == "" {
					t.Error("no X-Request-Id on the 101")
				}
			},
		},
		{
			Name:   "CORS",
			Mount:  mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.CORS()) }),
			Header: http.Header{"Origin": {"SAME-ORIGIN"}},
			Check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get(echo.HeaderAccessControlAllowOrigin); got != "*" {
					t.Errorf("Access-Control-Allow-Origin on the 101 = %q, want *", got)
				}
			},
		},
		{
			Name:   "Gzip",
			Mount:  mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Gzip()) }),
			Header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			Check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			Name:      "Gzip, lowercase Connection header",
			Mount:     mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Gzip()) }),
			Header:    http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			Lowercase: true,
			Check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			Name:  "ContextTimeout",
			Mount: mount(func(e *echo.Echo, _ io.Writer) { e.Use(middleware.ContextTimeout(2 * time.Second)) }),
		},
		{
			Name: "echo-jwt",
			Mount: mount(func(e *echo.Echo, _ io.Writer) {
				e.Use(echojwt.WithConfig(echojwt.Config{SigningKey: key}))
			}),
			Header:  http.Header{"Authorization": {"Bearer " + token}},
			Refused: &adaptertest.Refusal{Header: nil, Status: http.StatusUnauthorized, Message: "missing or malformed jwt"},
		},
		{
			Name: "echo-jwt bad token",
			Mount: mount(func(e *echo.Echo, _ io.Writer) {
				e.Use(echojwt.WithConfig(echojwt.Config{SigningKey: key}))
			}),
			Header: http.Header{"Authorization": {"Bearer " + token}},
			Refused: &adaptertest.Refusal{Header: http.Header{"Authorization": {"Bearer " + token[:len(token)-2] + "xx"}},
				Status: http.StatusUnauthorized, Message: "invalid or expired jwt"},
		},
	})
}

func TestTimeoutMiddlewareHidesHijacker(t *testing.T) {
	t.Parallel()
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
