package core_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/rawws"
)

// Scenarios of abuse that are not rows of a protocol table (those are
// TestAutobahn and TestProtocolBeyondAutobahn), and what the tables share
// with them: abuseServer, a hub whose route echoes every message, with a
// bystander in the room "lobby" that every case checks is still served.

// inEachReadMode runs test once per read mode, as subtests "auto" and
// "goroutine" that run in parallel: each starts a hub of its own.
func inEachReadMode(t *testing.T, test func(t *testing.T, mode core.ReadMode)) {
	t.Helper()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			test(t, m.mode)
		})
	}
}

// inEachReadModeAlone is inEachReadMode for a test that measures the
// process (its heap): the read modes run one after the other.
func inEachReadModeAlone(t *testing.T, test func(t *testing.T, mode core.ReadMode)) {
	t.Helper()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) { test(t, m.mode) })
	}
}

// abuseRoute joins the room of the URL and a room of its own, and echoes
// every message the way it came (text or binary).
func abuseRoute(c *core.Conn) error {
	if err := c.Join(c.Param("room"), "abuse:"+c.ID()); err != nil {
		return err
	}
	c.OnMessage(func(c *core.Conn, mt int, data []byte) error {
		if mt == core.TextMessage {
			return c.Send(string(data))
		}
		return c.SendBinary(data)
	})
	return nil
}

func closeFrame(code uint16, reason string) rawws.Frame {
	return rawws.Close(rawws.ClosePayload(code, reason))
}

// abuseServer is a hub the abuse cases run against, with a bystander
// connected to the room "lobby".
type abuseServer struct {
	*server
	addr      string
	bystander *rawws.Conn
	checks    int
}

func newAbuseServer(t *testing.T, cfg core.Config) *abuseServer {
	t.Helper()
	s := &abuseServer{server: newServer(t, cfg, abuseRoute)}
	s.addr = strings.TrimPrefix(s.srv.URL, "http://")
	s.bystander = s.dial(t)
	t.Cleanup(func() { s.bystander.Close() })
	return s
}

// dial connects a raw client to the lobby and waits until its route
// handler has joined.
func (s *abuseServer) dial(t *testing.T) *rawws.Conn {
	t.Helper()
	before := s.hub.Stats().Accepted
	c, err := rawws.Dial(s.addr, "/ws/lobby", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the route handler to run", func() bool {
		return s.hub.Stats().Accepted > before && len(s.hub.Rooms()) >= int(s.hub.Stats().Accepted-before)
	})
	return c
}

// checkBystander broadcasts to the lobby and waits for the bystander to
// receive it: the server's other connections are unaffected.
func (s *abuseServer) checkBystander(t *testing.T) {
	t.Helper()
	s.checks++
	want := s.checks
	if _, err := s.hub.To("lobby").Emit("check", want); err != nil {
		t.Fatal(err)
	}
	_ = s.bystander.SetDeadline(time.Now().Add(5 * time.Second))
	defer s.bystander.SetDeadline(time.Time{})
	for {
		f, err := s.bystander.ReadFrame()
		if err != nil {
			t.Fatalf("bystander: %v", err)
		}
		if f.Op == rawws.OpPing {
			_ = s.bystander.WriteFrames(rawws.Pong(f.Payload))
			continue
		}
		var env struct {
			Event string `json:"event"`
			Data  int    `json:"data"`
		}
		if f.Op == rawws.OpText && json.Unmarshal(f.Payload, &env) == nil && env.Event == "check" && env.Data == want {
			return
		}
		t.Fatalf("bystander got opcode %d %.80q, want check %d", f.Op, f.Payload, want)
	}
}

// checkGone waits until only the bystander is left: connection count,
// rooms (the lobby with one member; the connection's own room gone).
func (s *abuseServer) checkGone(t *testing.T) {
	t.Helper()
	eventually(t, "the connection to leave every room", func() bool {
		st := s.hub.Stats()
		lobby, _ := s.hub.Room("lobby")
		return st.Connections == 1 && st.Rooms == 2 && lobby.Members == 1
	})
}

// TestEarlyData sends the first frame in the same packet as the handshake,
// which RFC 6455 forbids a client to do. The server may refuse it, but
// must not log an error, must write nothing into the connection it took
// over after refusing, and must count the refusal.
func TestEarlyData(t *testing.T) {
	t.Parallel()
	inEachReadMode(t, earlyData)
}

func earlyData(t *testing.T, mode core.ReadMode) {
	s := newAbuseServer(t, core.Config{ReadMode: mode, PingInterval: -1})
	var httpLog syncBuffer
	s.srv.Config.ErrorLog = newStdLogger(&httpLog)
	before := s.hub.Stats()
	c, err := rawws.DialEarly(s.addr, "/ws/lobby", nil, rawws.Text("early").Bytes(), 5*time.Second)
	switch {
	case err == nil: // upgraded: the early frame must be handled like any other
		res := func() rawws.Result {
			_ = c.WriteFrames(closeFrame(1000, ""))
			return c.Drain(5 * time.Second)
		}()
		if len(res.Messages) != 1 || string(res.Messages[0].Payload) != "early" || res.Code != 1000 {
			t.Errorf("upgraded, then got %d messages, close %d", len(res.Messages), res.Code)
		}
	default:
		// Refused: the client must see the connection end with nothing
		// written after the request, or a complete HTTP error response.
		t.Logf("refused: %v", err)
		if strings.Contains(err.Error(), "malformed HTTP") {
			t.Errorf("server wrote bytes that are not an HTTP response: %v", err)
		}
	}
	s.checkGone(t)
	s.checkBystander(t)
	eventually(t, "the refusal or the connection to be counted", func() bool {
		st := s.hub.Stats()
		return st.Accepted > before.Accepted || rejectedTotal(st) > rejectedTotal(before)
	})
	if strings.Contains(s.logs.String(), "level=ERROR") {
		t.Errorf("hub logged an error:\n%s", s.logs.String())
	}
	if httpLog.String() != "" {
		t.Errorf("net/http logged:\n%s", httpLog.String())
	}
}

func rejectedTotal(st core.Stats) uint64 {
	var n uint64
	for _, v := range st.Rejected {
		n += v
	}
	return n
}

// TestEmptyContinuationFlood sends a message of half a million empty
// continuation frames: the server must finish it (echo the one byte it
// carries) without holding memory per frame, and stay responsive.
//
// Not parallel: it measures the heap of the whole test process.
func TestEmptyContinuationFlood(t *testing.T) { inEachReadModeAlone(t, emptyContinuationFlood) }

func emptyContinuationFlood(t *testing.T, mode core.ReadMode) {
	s := newAbuseServer(t, core.Config{ReadMode: mode, PingInterval: -1})
	c := s.dial(t)
	const n = 500_000
	empty := rawws.Frame{Op: rawws.OpContinuation}.Bytes()
	flood := make([]byte, 0, len(empty)*n+64)
	flood = append(flood, fr(false, 0, rawws.OpText, "").Bytes()...)
	for range n {
		flood = append(flood, empty...)
	}
	flood = append(flood, fr(true, 0, rawws.OpContinuation, "x").Bytes()...)
	flood = append(flood, closeFrame(1000, "").Bytes()...)
	heap0 := heapInUse()
	start := time.Now()
	go func() { _ = c.Write(flood) }()
	res := c.Drain(60 * time.Second)
	t.Logf("%d empty continuation frames (%d KiB) handled in %v; heap grew by %d KiB", n, len(flood)>>10, time.Since(start), (heapInUse()-heap0)>>10)
	if len(res.Messages) != 1 || string(res.Messages[0].Payload) != "x" || res.Code != 1000 {
		t.Fatalf("got %d messages, close %d (%v), want the echo of \"x\" and 1000", len(res.Messages), res.Code, res.Err)
	}
	// The flood itself is in the test's heap; the server must not hold
	// a copy of it, or anything per frame.
	if grew := heapInUse() - heap0; grew > int64(len(flood)) {
		t.Errorf("heap grew by %d bytes during a %d-byte flood", grew, len(flood))
	}
	s.checkGone(t)
	s.checkBystander(t)
}

// TestPingFlood sends ten thousand pings, first reading the pongs, then
// without reading anything: the flooder gets its pongs or is slowed by
// TCP, and the bystander is never affected.
func TestPingFlood(t *testing.T) {
	t.Parallel()
	inEachReadMode(t, pingFlood)
}

func pingFlood(t *testing.T, mode core.ReadMode) {
	s := newAbuseServer(t, core.Config{ReadMode: mode, PingInterval: -1})
	tests := []struct {
		name  string
		reads bool
	}{
		{"reading its pongs", true},
		{"never reading", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.dial(t)
			const n = 10_000
			var flood []byte
			for i := range n {
				flood = append(flood, rawws.Ping([]byte(fmt.Sprintf("%0125d", i))).Bytes()...)
			}
			done := make(chan error, 1)
			if tt.reads {
				flood = append(flood, closeFrame(1000, "").Bytes()...)
			}
			go func(b []byte) { done <- c.Write(b) }(flood)
			if tt.reads {
				res := c.Drain(30 * time.Second)
				<-done
				if len(res.Pongs) != n || res.Code != 1000 {
					t.Fatalf("got %d pongs and close %d, want %d and 1000", len(res.Pongs), res.Code, n)
				}
				for i, p := range res.Pongs {
					if string(p) != fmt.Sprintf("%0125d", i) {
						t.Fatalf("pong %d = %.20q...", i, p)
					}
				}
			} else {
				// While the flooder's pongs back up, others are served.
				s.checkBystander(t)
				_ = c.Reset()
				<-done
			}
			s.checkGone(t)
			s.checkBystander(t)
		})
	}
}

// TestPeerStallsMidMessage covers a peer that stops halfway through a
// frame it is sending, and one that stops reading halfway through a large
// message it is being sent: each is closed in bounded time (pong timeout,
// write timeout or the slow-consumer policy), and nobody else notices.
func TestPeerStallsMidMessage(t *testing.T) {
	t.Parallel()
	inEachReadMode(t, peerStallsMidMessage)
}

func peerStallsMidMessage(t *testing.T, mode core.ReadMode) {
	t.Run("stops sending mid-frame", func(t *testing.T) {
		s := newAbuseServer(t, core.Config{ReadMode: mode, PingInterval: 50 * time.Millisecond, PongTimeout: 200 * time.Millisecond})
		c := s.dial(t)
		half := rawws.Binary(make([]byte, 1000)).Bytes()[:500]
		if err := c.Write(half); err != nil {
			t.Fatal(err)
		}
		// The bystander of this hub is silent too and is closed for the
		// same reason; what matters is that the stalled peer is, in
		// bounded time, although its read is stuck mid-frame.
		res := c.Drain(10 * time.Second)
		if ne, ok := res.Err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the server kept a peer stalled mid-frame for 10s (pong timeout 200ms)")
		}
		t.Logf("stalled peer closed: %d %q (%v)", res.Code, res.Reason, res.Err)
		eventually(t, "every connection to be closed", func() bool {
			st := s.hub.Stats()
			return st.Connections == 0 && st.Rooms == 0 && st.Timeouts >= 1
		})
	})
	t.Run("stops reading mid-message", func(t *testing.T) {
		s := newAbuseServer(t, core.Config{ReadMode: mode, PingInterval: -1, WriteTimeout: 300 * time.Millisecond})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("hub logs:\n%s", s.logs.String())
			}
		})
		c := s.dial(t)
		// Fill the stalled client's socket buffers with large messages
		// to the whole lobby, reading only on the bystander.
		big := strings.Repeat("B", 60_000)
		for i := 0; i < 200 && s.hub.Stats().Connections == 2; i++ {
			if _, err := s.hub.To("lobby").Send(big); err != nil {
				t.Fatal(err)
			}
			if err := drainOne(s.bystander); err != nil {
				t.Fatalf("bystander after %d messages: %v; stats %+v; logs:\n%s", i+1, err, s.hub.Stats(), s.logs.String())
			}
		}
		eventually(t, "the stalled reader to be closed", func() bool { return s.hub.Stats().Connections == 1 })
		st := s.hub.Stats()
		t.Logf("stalled reader closed: slowCloses=%d drops=%d errors=%d", st.SlowCloses, st.Drops, st.Errors)
		c.Close()
		s.checkGone(t)
		s.checkBystander(t)
	})
}

// drainOne reads the next data frame on c, answering pings.
func drainOne(c *rawws.Conn) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	for {
		f, err := c.ReadFrame()
		if err != nil {
			return err
		}
		switch f.Op {
		case rawws.OpPing:
			_ = c.WriteFrames(rawws.Pong(f.Payload))
		case rawws.OpClose:
			code, reason, _ := rawws.ParseClose(f.Payload)
			return fmt.Errorf("closed with %d %q", code, reason)
		default:
			return nil
		}
	}
}

// TestTrickledHeaders sends a handshake one byte at a time to a server
// configured as the examples configure theirs (ReadHeaderTimeout set, here
// shortened for the test): the server drops it when the timeout passes,
// before the headers are complete, and the hub never sees it.
func TestTrickledHeaders(t *testing.T) {
	t.Parallel()
	inEachReadMode(t, trickledHeaders)
}

func trickledHeaders(t *testing.T, mode core.ReadMode) {
	s := newAbuseServer(t, core.Config{ReadMode: mode, PingInterval: -1})
	srv := httptestServerLikeExamples(t, s.hub, 300*time.Millisecond) // ReadTimeout 1.8 s: the trickle is cut by ReadHeaderTimeout first
	addr := strings.TrimPrefix(srv.URL, "http://")
	before := s.hub.Stats()
	nc, err := dialTCP(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req, _ := rawws.Request(addr, "/ws/lobby", nil)
	start := time.Now()
	sent := 0
	for ; sent < len(req); sent++ {
		if _, err := nc.Write(req[sent : sent+1]); err != nil {
			break
		}
		// The trickle is the abuse under test: a byte every 50 ms, until
		// the server drops it (no event to wait for instead).
		time.Sleep(50 * time.Millisecond)
		if closedByPeer(nc) {
			break
		}
	}
	if sent >= len(req) {
		t.Fatalf("the whole handshake (%d bytes over %v) was accepted one byte at a time", len(req), time.Since(start))
	}
	t.Logf("server dropped the trickling client after %d of %d bytes (%v)", sent, len(req), time.Since(start).Round(10*time.Millisecond))
	if st := s.hub.Stats(); st.Accepted != before.Accepted {
		t.Fatalf("the hub accepted the trickled handshake")
	}
	s.checkBystander(t)
}

// TestServerTimeouts checks the other side of the examples' http.Server
// timeouts: an idle keep-alive connection is closed by IdleTimeout, and an
// upgraded WebSocket outlives ReadTimeout and WriteTimeout (the hijacked
// connection must not keep their deadlines).
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	inEachReadMode(t, serverTimeouts)
}

func serverTimeouts(t *testing.T, mode core.ReadMode) {
	s := newAbuseServer(t, core.Config{ReadMode: mode, PingInterval: -1})
	const unit = 50 * time.Millisecond
	srv := httptestServerLikeExamples(t, s.hub, unit)
	addr := strings.TrimPrefix(srv.URL, "http://")
	t.Run("idle keep-alive", func(t *testing.T) {
		nc, err := dialTCP(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := io.WriteString(nc, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		_ = nc.SetReadDeadline(time.Now().Add(100 * unit))
		if _, err := br.ReadByte(); err == nil || isTimeout(err) {
			t.Fatalf("idle keep-alive connection still open after 100 units (IdleTimeout 12): %v", err)
		}
	})
	t.Run("websocket outlives the request timeouts", func(t *testing.T) {
		before := s.hub.Stats().Accepted
		c, err := rawws.Dial(addr, "/ws/lobby", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the route handler to run", func() bool { return s.hub.Stats().Accepted > before })
		// Time passing beyond ReadTimeout and WriteTimeout is what is
		// tested: the deadlines they would have set have no event to wait on.
		time.Sleep(10 * unit)
		if err := c.WriteFrames(rawws.Text("still here"), closeFrame(1000, "")); err != nil {
			t.Fatal(err)
		}
		res := c.Drain(5 * time.Second)
		if len(res.Messages) != 1 || string(res.Messages[0].Payload) != "still here" || res.Code != 1000 {
			t.Fatalf("after the request timeouts: %d messages, close %d (%v)", len(res.Messages), res.Code, res.Err)
		}
	})
	s.checkGone(t)
	s.checkBystander(t)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// newStdLogger returns a log.Logger writing to w, for http.Server.ErrorLog.
func newStdLogger(w io.Writer) *log.Logger { return log.New(w, "", 0) }

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// httptestServerLikeExamples mounts hub on an http.Server with the
// timeouts the examples set, scaled down by the same factor so a test
// runs in a fraction of a second: ReadHeaderTimeout unit, ReadTimeout and
// WriteTimeout 6 units, IdleTimeout 12 units (the examples: 5 s, 30 s,
// 30 s, 60 s).
func httptestServerLikeExamples(t *testing.T, hub *core.Hub, unit time.Duration) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(abuseRoute))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadHeaderTimeout = unit
	srv.Config.ReadTimeout = 6 * unit
	srv.Config.WriteTimeout = 6 * unit
	srv.Config.IdleTimeout = 12 * unit
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func dialTCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

// closedByPeer reports whether the peer has closed nc (or sent something,
// such as a 408 before closing), without waiting.
func closedByPeer(nc net.Conn) bool {
	_ = nc.SetReadDeadline(time.Now().Add(time.Millisecond))
	defer nc.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := nc.Read(b[:])
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// newLoopbackServer starts an httptest server for h whose net/http error
// log is discarded.
func newLoopbackServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = newStdLogger(io.Discard)
	srv.Start()
	return srv
}

// TestLogInjection sends user input made to forge log records (a newline
// through a percent-encoded room name, quotes and key=value pairs in the
// Origin header, invalid UTF-8) and checks that every record the hub logs
// stays one line with one level and one message: attacker-controlled
// values are quoted, never spliced.
func TestLogInjection(t *testing.T) {
	t.Parallel()
	inEachReadMode(t, logInjection)
}

func logInjection(t *testing.T, mode core.ReadMode) {
	s := newAbuseServer(t, core.Config{ReadMode: mode, PingInterval: -1})
	forged := `level=ERROR msg="forged record"`
	tests := []struct {
		name   string
		path   string
		header http.Header
	}{
		{"newline in the room name", "/ws/a%0A" + strings.ReplaceAll(forged, " ", "%20"), nil},
		{"carriage return and NUL in the room name", "/ws/a%0D%00" + strings.ReplaceAll(forged, " ", "%20"), nil},
		{"quotes in the Origin", "/ws/lobby", http.Header{"Origin": {`https://evil.example" ` + forged + ` x="`}}},
		{"invalid UTF-8 in the Origin", "/ws/lobby", http.Header{"Origin": {"https://\xff\xfe.example " + forged}}},
		{"a long Origin", "/ws/lobby", http.Header{"Origin": {"https://" + strings.Repeat("a", 5000) + ".example"}}},
		{"a long room name", "/ws/" + strings.Repeat("r", 6000), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := rawws.Dial(s.addr, tt.path, tt.header, 5*time.Second)
			if err == nil {
				c.Drain(2 * time.Second)
			}
		})
	}
	s.checkBystander(t)
	logs := s.logs.String()
	records, long := 0, 0
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		records++
		keys := logfmtKeys(line)
		if !strings.HasPrefix(line, "time=") || keys["level"] != 1 || keys["msg"] != 1 {
			t.Errorf("log line is not one record (keys %v):\n%.300s", keys, line)
		}
		if len(line) > 4096 {
			long = max(long, len(line))
		}
	}
	t.Logf("%d log records checked", records)
	if long > 0 {
		t.Errorf("a log line of %d bytes: user input must be cut in logs", long)
	}
}

// logfmtKeys counts the keys of one slog text record, skipping quoted
// values.
func logfmtKeys(line string) map[string]int {
	keys := map[string]int{}
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		j := i
		for j < len(line) && line[j] != '=' && line[j] != ' ' {
			j++
		}
		if j < len(line) && line[j] == '=' {
			keys[line[i:j]]++
			j++
		}
		if j < len(line) && line[j] == '"' {
			j++
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			j++
		} else {
			for j < len(line) && line[j] != ' ' {
				j++
			}
		}
		i = j
	}
	return keys
}
