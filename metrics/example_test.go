package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo-contrib/echoprometheus"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/metrics"
)

// quietHub returns a hub that logs nothing, for examples.
func quietHub() *core.Hub {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	return hub
}

func join(c *core.Conn) error { return c.Join("lobby") }

// get returns the status and body of a GET request.
func get(url string) (int, string) {
	res, err := http.Get(url)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(body))
}

// A hub on plain net/http, with its metrics on the application's own
// registry and the health probes beside them.
func Example() {
	hub := quietHub()
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, hub); err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", hub.Handler(join))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("GET /livez", core.LiveHandler(hub))
	mux.Handle("GET /readyz", core.ReadyHandler(hub))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer hub.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for hub.Stats().Rooms == 0 { // the route handler joins the lobby
		time.Sleep(time.Millisecond)
	}

	_, body := get(srv.URL + "/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "rushws_connections ") ||
			strings.HasPrefix(line, "rushws_connections_accepted_total ") || strings.HasPrefix(line, "rushws_rooms ") {
			fmt.Println(line)
		}
	}
	fmt.Println(get(srv.URL + "/readyz"))
	// Output:
	// rushws_connections 1
	// rushws_connections_accepted_total 1
	// rushws_rooms 1
	// 200 {"state":"serving","connections":1,"healthy":1,"unhealthy":0}
}

// With Echo: echoprometheus measures the app's HTTP requests and skips the
// WebSocket handshakes (a hijacked request has no meaningful duration),
// with labels that no client can multiply; the hub's collector sits on the
// same registry, and the health probes are wrapped handlers.
func Example_echo() {
	hub := quietHub()
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, hub); err != nil {
		panic(err)
	}
	e := echo.New()
	e.Use(echoprometheus.NewMiddlewareWithConfig(echoprometheus.MiddlewareConfig{
		Registerer: reg,
		Skipper:    func(c echo.Context) bool { return metrics.IsWebSocket(c.Request()) },
		// Labels no client can multiply: the route, never the raw path of
		// an unmatched request; no Host header; known methods only.
		DoNotUseRequestPathFor404: true,
		LabelFuncs: map[string]echoprometheus.LabelValueFunc{
			"host":   func(echo.Context, error) string { return "" },
			"method": func(c echo.Context, _ error) string { return metrics.MethodLabel(c.Request().Method) },
		},
	}))
	e.GET("/ws", echows.Handler(hub, join))
	e.GET("/hello", func(c echo.Context) error { return c.String(http.StatusOK, "hello") })
	admin := e.Group("/admin") // protect it: e.g. middleware.BasicAuth, or a separate listener
	admin.GET("/metrics", echoprometheus.NewHandlerWithConfig(echoprometheus.HandlerConfig{Gatherer: reg}))
	admin.GET("/livez", echo.WrapHandler(core.LiveHandler(hub)))
	admin.GET("/readyz", echo.WrapHandler(core.ReadyHandler(hub)))
	srv := httptest.NewServer(e)
	defer srv.Close()
	defer hub.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for hub.Len() == 0 { // the client reads the 101 before the hub lists the connection
		time.Sleep(time.Millisecond)
	}
	get(srv.URL + "/hello")
	get(srv.URL + "/no/such/page") // counted under url="" rather than its path

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range families {
		if mf.GetName() == "echo_requests_total" {
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				fmt.Printf("echo_requests_total{code=%q,host=%q,url=%q} %v\n", labels["code"], labels["host"], labels["url"], m.GetCounter().GetValue())
			}
		}
	}
	fmt.Println(get(srv.URL + "/admin/livez"))
	// Output:
	// echo_requests_total{code="200",host="",url="/hello"} 1
	// echo_requests_total{code="404",host="",url=""} 1
	// 200 {"state":"serving","connections":1,"healthy":1,"unhealthy":0}
}

// requestDuration is a Gin middleware that observes each HTTP request's
// duration by route and status, skipping WebSocket handshakes.
func requestDuration(reg prometheus.Registerer) gin.HandlerFunc {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Duration of HTTP requests, WebSocket handshakes excepted.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route", "code"})
	reg.MustRegister(h)
	return func(c *gin.Context) {
		if metrics.IsWebSocket(c.Request) {
			c.Next()
			return
		}
		start := time.Now()
		c.Next()
		route := c.FullPath() // the route pattern, never the raw path
		if route == "" {
			route = "unmatched"
		}
		h.WithLabelValues(metrics.MethodLabel(c.Request.Method), route, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

// With Gin: a request-duration middleware that skips WebSocket handshakes,
// the hub's collector on the same registry, and the health probes through
// gin.WrapH.
func Example_gin() {
	gin.SetMode(gin.ReleaseMode)
	hub := quietHub()
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, hub); err != nil {
		panic(err)
	}
	r := gin.New()
	r.Use(requestDuration(reg))
	r.GET("/ws", ginws.Handler(hub, join))
	r.GET("/hello", func(c *gin.Context) { c.String(http.StatusOK, "hello") })
	admin := r.Group("/admin") // protect it: e.g. gin.BasicAuth, or a separate listener
	admin.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	admin.GET("/livez", gin.WrapH(core.LiveHandler(hub)))
	admin.GET("/readyz", gin.WrapH(core.ReadyHandler(hub)))
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	get(srv.URL + "/hello")

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range families {
		if mf.GetName() == "http_request_duration_seconds" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "route" {
						fmt.Println("http_request_duration_seconds route:", l.GetValue(), m.GetHistogram().GetSampleCount())
					}
				}
			}
		}
	}
	// Shutdown began: ready says 503 at once, live stays 200 while the hub
	// drains.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go ws.ReadMessage() // answers the server's close frame
	done := make(chan error)
	go func() { done <- hub.Shutdown(ctx) }()
	for hub.Health().State == core.StateServing {
		time.Sleep(time.Millisecond)
	}
	status, _ := get(srv.URL + "/admin/readyz")
	fmt.Println("ready:", status)
	fmt.Println("shutdown:", <-done)
	fmt.Println(get(srv.URL + "/admin/livez"))
	// Output:
	// http_request_duration_seconds route: /hello 1
	// ready: 503
	// shutdown: <nil>
	// 503 {"state":"closed","connections":0,"healthy":0,"unhealthy":0}
}
