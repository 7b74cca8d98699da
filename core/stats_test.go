package core_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

func TestStatsCloseClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		code int
		want string
	}{
		{"normal", 1000, core.CloseClassNormal},
		{"close frame without a code", 1005, core.CloseClassNormal},
		{"going away", 1001, core.CloseClassGoingAway},
		{"protocol error", 1002, core.CloseClassProtocol},
		{"unsupported data", 1003, core.CloseClassProtocol},
		{"invalid payload", 1007, core.CloseClassProtocol},
		{"extension missing", 1010, core.CloseClassProtocol},
		{"policy", 1008, core.CloseClassPolicy},
		{"too big", 1009, core.CloseClassTooBig},
		{"internal", 1011, core.CloseClassInternal},
		{"abnormal", 1006, core.CloseClassAbnormal},
		{"first app code", 3000, core.CloseClassApp},
		{"auth failed", core.CloseUnauthorized, core.CloseClassApp},
		{"last app code", 4999, core.CloseClassApp},
		{"service restart", 1012, core.CloseClassOther},
		{"out of range", 5000, core.CloseClassOther},
		{"zero", 0, core.CloseClassOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := core.CloseClass(tt.code); got != tt.want {
				t.Fatalf("CloseClass(%d) = %q, want %q", tt.code, got, tt.want)
			}
			if !slices.Contains(core.CloseClasses(), tt.want) {
				t.Fatalf("%q missing from CloseClasses", tt.want)
			}
		})
	}
}

// statsRoute joins the room in the URL and adds events that end the
// connection in the server's ways.
func statsRoute(c *core.Conn) error {
	if err := c.Join(c.Param("room")); err != nil {
		return err
	}
	if err := c.On("kick", func(c *core.Conn, _ json.RawMessage) (any, error) {
		return nil, c.Close(core.ClosePolicyViolation, "kicked")
	}); err != nil {
		return err
	}
	return c.On("panic", func(*core.Conn, json.RawMessage) (any, error) {
		panic("test panic")
	})
}

// TestStatsCloses ends one connection per case, the way users and servers
// do, and checks it is counted once, under its class.
func TestStatsCloses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		end      func(s *server, c *wstest.Client)
		wantCode int // what the client sees
		class    string
	}{
		{"client goodbye", func(_ *server, c *wstest.Client) { c.Close() }, 0, core.CloseClassNormal},
		{"tab navigates away", func(_ *server, c *wstest.Client) { c.CloseWith(1001, "bye") }, 0, core.CloseClassGoingAway},
		{"app close code", func(_ *server, c *wstest.Client) { c.CloseWith(4000, "done") }, 0, core.CloseClassApp},
		{"client vanishes", func(_ *server, c *wstest.Client) { c.Abort() }, 0, core.CloseClassAbnormal},
		{"server kicks", func(_ *server, c *wstest.Client) { c.Emit("kick", nil) }, 1008, core.CloseClassPolicy},
		{"handler panics", func(_ *server, c *wstest.Client) { c.Emit("panic", nil) }, 1011, core.CloseClassInternal},
		{"message too big", func(_ *server, c *wstest.Client) { c.Send(strings.Repeat("x", 200)) }, 1009, core.CloseClassTooBig},
		{"invalid UTF-8", func(_ *server, c *wstest.Client) {
			_ = c.Conn().WriteMessage(websocket.TextMessage, []byte{'"', 0xff, '"'})
		}, 1007, core.CloseClassProtocol},
		{"hub shuts down", func(s *server, _ *wstest.Client) {
			go func() { _ = s.hub.Shutdown(t.Context()) }()
		}, 1001, core.CloseClassGoingAway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, core.Config{ReadLimit: 128, PingInterval: -1}, statsRoute)
			c := wstest.Dial(t, s.url("lobby"))
			eventually(t, "the client in its room", func() bool {
				r, ok := s.hub.Room("lobby")
				return ok && r.Members == 1
			})
			tt.end(s, c)
			if tt.wantCode != 0 {
				c.ExpectClose(tt.wantCode)
				c.Close() // done reading: the server need not linger
			}
			eventually(t, "the connection finished", func() bool { return s.hub.Stats().Connections == 0 })
			eventually(t, "the close counted", func() bool { return s.hub.Stats().Closes[tt.class] == 1 })
			st := s.hub.Stats()
			if len(st.Closes) != len(core.CloseClasses()) {
				t.Errorf("Closes has %d classes, want all %d: %v", len(st.Closes), len(core.CloseClasses()), st.Closes)
			}
			for class, n := range st.Closes {
				if class != tt.class && n != 0 {
					t.Errorf("Closes[%q] = %d, want 0 (all: %v)", class, n, st.Closes)
				}
			}
		})
	}
}

// TestStatsHistograms checks the two histograms fill from real traffic and
// stay consistent.
func TestStatsHistograms(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{PingInterval: 20 * time.Millisecond, PongTimeout: 5 * time.Second}, chat)
	a := wstest.Dial(t, s.url("lobby"))
	b := wstest.Dial(t, s.url("lobby"))
	eventually(t, "both in the room", func() bool {
		r, ok := s.hub.Room("lobby")
		return ok && r.Members == 2
	})
	for range 20 {
		a.Emit("chat", strings.Repeat("y", 100))
	}
	for range 20 {
		b.Expect("chat")
	}
	// b's reads answer pings; a is answered while it waits for its echo.
	eventually(t, "two ping round trips", func() bool {
		roundTrip(t, a)
		return s.hub.Stats().PingRTTHistogram.Count >= 2
	})
	st := s.hub.Stats()
	for name, h := range map[string]core.Histogram{"ping": st.PingRTTHistogram, "queue": st.SendQueueHistogram} {
		if len(h.Counts) != len(h.Bounds)+1 {
			t.Errorf("%s: %d counts for %d bounds, want one more", name, len(h.Counts), len(h.Bounds))
		}
		if !slices.IsSorted(h.Bounds) {
			t.Errorf("%s: bounds not ascending: %v", name, h.Bounds)
		}
		var sum uint64
		for _, n := range h.Counts {
			sum += n
		}
		if sum != h.Count || h.Count == 0 || h.Sum <= 0 {
			t.Errorf("%s: counts sum to %d, Count %d, Sum %v; want equal, non-zero", name, sum, h.Count, h.Sum)
		}
		cum := h.Cumulative()
		if last := cum[h.Bounds[len(h.Bounds)-1]]; last != h.Count-h.Counts[len(h.Bounds)] {
			t.Errorf("%s: cumulative at the last bound = %d, want %d", name, last, h.Count-h.Counts[len(h.Bounds)])
		}
	}
	// A round trip on loopback is under a second; 100-byte messages queue
	// well under the 1 MiB bound.
	if st.PingRTTHistogram.Sum/float64(st.PingRTTHistogram.Count) >= 1 {
		t.Errorf("mean ping round trip %vs, want under 1s", st.PingRTTHistogram.Sum/float64(st.PingRTTHistogram.Count))
	}
	if over := st.SendQueueHistogram.Counts[len(st.SendQueueHistogram.Bounds)]; over != 0 {
		t.Errorf("%d wake-ups found more than 4 MiB queued", over)
	}
}

func TestStatsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		stats      core.Stats
		uptime     string
		pingMillis string
	}{
		{"issue 8's uptime", core.Stats{Uptime: 7532062919}, `"uptimeSeconds":7.532`, `"pingRttMillis":0`},
		{"rounded up", core.Stats{Uptime: 1999600 * time.Microsecond, PingRTT: 1234567}, `"uptimeSeconds":2`, `"pingRttMillis":1.235`},
		{"sub-microsecond round trip", core.Stats{PingRTT: 400}, `"uptimeSeconds":0`, `"pingRttMillis":0`},
		{"slow round trip", core.Stats{PingRTT: 2500 * time.Millisecond}, `"uptimeSeconds":0`, `"pingRttMillis":2500`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.stats)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{tt.uptime, tt.pingMillis} {
				if !strings.Contains(string(b), want) {
					t.Errorf("JSON %s lacks %s", b, want)
				}
			}
		})
	}

	// From a live hub: the histograms and closes are there, the broker is
	// not (the hub has none).
	s := newServer(t, core.Config{}, chat)
	status, header, body := rawRequest(t, "GET", newHTTPServer(t, core.StatsHandler(s.hub)), nil)
	if status != 200 || !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		t.Fatalf("stats handler: %d %q", status, header.Get("Content-Type"))
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"closes", "pingRttHistogram", "sendQueueHistogram", "uptimeSeconds", "pingRttMillis"} {
		if _, ok := got[key]; !ok {
			t.Errorf("stats JSON lacks %q: %v", key, got)
		}
	}
	if _, ok := got["broker"]; ok {
		t.Errorf("stats JSON of a hub without broker has a broker: %s", got["broker"])
	}
	var h core.Histogram
	if err := json.Unmarshal(got["sendQueueHistogram"], &h); err != nil || len(h.Bounds) == 0 {
		t.Errorf("sendQueueHistogram %s does not decode into Histogram (%v)", got["sendQueueHistogram"], err)
	}
}

// Stats.Closes counts finished connections by the class of their close
// code, a fixed set that metrics systems can label by.
func ExampleCloseClass() {
	for _, code := range []int{1000, 1001, 1006, 1008, 4401} {
		fmt.Println(code, core.CloseClass(code))
	}
	// Output:
	// 1000 normal
	// 1001 going_away
	// 1006 abnormal
	// 1008 policy
	// 4401 app
}
