package core_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/rawws"
)

// Fuzz targets. Their seeds (f.Add and testdata/fuzz/<name>) run with every
// `go test`; `go test -run x -fuzz FuzzName ./core/` explores further.

// FuzzRoomName checks ValidRoomName's promises: 1 to 256 bytes of valid
// UTF-8 without control characters, names that survive a JSON round trip,
// and a hub that refuses exactly the invalid ones.
func FuzzRoomName(f *testing.F) {
	for _, s := range []string{"lobby", "", "a\x00b", "tab\there", "émoji 🎉", strings.Repeat("r", 256), strings.Repeat("r", 257),
		"\xff", "line\nbreak", "\u2028", "\u200b", "room:42", "\x7f", "\u0085"} {
		f.Add(s)
	}
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = hub.Close() })
	f.Fuzz(func(t *testing.T, name string) {
		valid := core.ValidRoomName(name)
		want := len(name) >= 1 && len(name) <= 256 && utf8.ValidString(name) && !strings.ContainsFunc(name, unicode.IsControl)
		if valid != want {
			t.Fatalf("ValidRoomName(%q) = %v, want %v", name, valid, want)
		}
		_, err := hub.To(name).Send("x")
		if valid == errors.Is(err, core.ErrInvalidRoom) {
			t.Fatalf("To(%q).Send error = %v, valid = %v", name, err, valid)
		}
		if valid {
			b, err := json.Marshal(name)
			if err != nil {
				t.Fatal(err)
			}
			var back string
			if err := json.Unmarshal(b, &back); err != nil || back != name {
				t.Fatalf("JSON round trip of %q gave %q, %v", name, back, err)
			}
		}
	})
}

// FuzzEventName checks ValidEventName: 1 to 128 bytes of printable UTF-8,
// names that survive a JSON round trip, and Emit refusing exactly the
// invalid ones.
func FuzzEventName(f *testing.F) {
	for _, s := range []string{"chat", "", "a b", "tab\t", "émoji 🎉", strings.Repeat("e", 128), strings.Repeat("e", 129),
		"\xff", "new\nline", "\u200b", "error", "\u00a0"} {
		f.Add(s)
	}
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = hub.Close() })
	f.Fuzz(func(t *testing.T, name string) {
		valid := core.ValidEventName(name)
		want := len(name) >= 1 && len(name) <= 128 && utf8.ValidString(name) && !strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) })
		if valid != want {
			t.Fatalf("ValidEventName(%q) = %v, want %v", name, valid, want)
		}
		if valid && strings.ContainsFunc(name, unicode.IsControl) {
			t.Fatalf("valid event name %q holds a control character", name)
		}
		_, err := hub.Broadcast().Emit(name, nil)
		if (valid && !slices.Contains(core.ReservedEventNames(), name)) == errors.Is(err, core.ErrInvalidEvent) {
			t.Fatalf("Emit(%q) error = %v, valid = %v", name, err, valid)
		}
		if valid {
			b, _ := json.Marshal(name)
			var back string
			if err := json.Unmarshal(b, &back); err != nil || back != name {
				t.Fatalf("JSON round trip of %q gave %q, %v", name, back, err)
			}
		}
	})
}

// watchdog crashes the fuzz worker, printing every goroutine, when one
// input takes longer than d: the fuzzer then keeps the input as a crasher,
// where a hang would only stall it. Call the returned stop when the input
// is done.
func watchdog(d time.Duration, input any) (stop func() bool) {
	timer := time.AfterFunc(d, func() {
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "input %q hung for %v; goroutines:\n%s\n", input, d, buf)
		panic(fmt.Sprintf("input %q hung for %v", input, d))
	})
	return timer.Stop
}

// fuzzServer is a hub for fuzz targets, built once per target.
type fuzzServer struct {
	hub  *core.Hub
	url  string
	logs *syncBuffer
}

// newFuzzServer starts a hub on a loopback httptest server; route is its
// route handler.
func newFuzzServer(f *testing.F, cfg core.Config, route core.HandlerFunc) *fuzzServer {
	f.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hub, err := core.NewHub(cfg)
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(route))
	url := newHTTPServerF(f, mux)
	f.Cleanup(func() { _ = hub.Close() })
	return &fuzzServer{hub: hub, url: "ws" + strings.TrimPrefix(url, "http") + "/ws/fuzz", logs: logs}
}

// eventRoute registers the events the envelope fuzzers exercise: an echo
// with acks, a typed handler, a relay to the room and one that errors.
func eventRoute(c *core.Conn) error {
	if err := c.Join(c.Param("room")); err != nil {
		return err
	}
	_ = c.On("echo", func(c *core.Conn, data json.RawMessage) (any, error) { return data, c.Emit("echo", data) })
	_ = c.On("chat", func(c *core.Conn, data json.RawMessage) (any, error) {
		_, err := c.To(c.Param("room")).Emit("chat", data)
		return nil, err
	})
	_ = c.On("fail", func(*core.Conn, json.RawMessage) (any, error) {
		return nil, core.NewEventError(core.CodeForbidden, "no")
	})
	return core.Handle(c, "typed", func(c *core.Conn, m struct {
		N int    `json:"n"`
		S string `json:"s"`
	}) (any, error) {
		return m, nil
	})
}

// knownCodes are the error codes a client may see.
var knownCodes = map[string]bool{core.CodeBadRequest: true, core.CodeUnknownEvent: true, core.CodeForbidden: true,
	core.CodeRateLimited: true, core.CodeTooLarge: true, core.CodeInternal: true}

// sentinelAck marks the message each fuzz iteration sends last: its reply
// tells that everything before it was handled.
const sentinelAck = 4_000_000_000

// readUntilSentinel reads the server's messages until the sentinel's ack
// reply, checking that each is a well-formed event or ack reply.
func readUntilSentinel(t *testing.T, ws *websocket.Conn) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		mt, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("connection ended before the sentinel: %v", err)
		}
		if mt != websocket.TextMessage || !utf8.Valid(b) {
			t.Fatalf("server sent type %d %q", mt, b)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("server sent invalid JSON %q: %v", b, err)
		}
		if ack, ok := m["ack"]; ok && string(ack) == strconv.Itoa(sentinelAck) {
			return out
		}
		if ev, ok := m["event"]; ok {
			var name string
			if json.Unmarshal(ev, &name) != nil || !core.ValidEventName(name) {
				t.Fatalf("server sent event name %s", ev)
			}
			if name == "error" {
				var e core.EventError
				if json.Unmarshal(m["data"], &e) != nil || !knownCodes[e.Code] || e.Message == "" {
					t.Fatalf("malformed error event %q", b)
				}
			}
		} else if _, ok := m["ack"]; !ok {
			t.Fatalf("server sent neither an event nor an ack reply: %q", b)
		}
		out = append(out, m)
	}
}

// FuzzEnvelope sends arbitrary text messages through a real connection to
// a hub with event handlers and no raw handler. Valid UTF-8 under the read
// limit never closes the connection; every reply is an event or an ack
// reply with a known error code; invalid UTF-8 closes with 1007.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"event":"echo","data":{"a":1},"ack":1}`, `{"event":"echo"}`, `{"event":"chat","data":"hi"}`,
		`{"event":"typed","data":{"n":"not a number"},"ack":2}`, `{"event":"typed","data":{"n":3,"s":"x"},"ack":3}`,
		`{"event":"nope","ack":4}`, `{"event":"fail","ack":5}`, `{"event":"fail"}`, `{"event":"","ack":6}`,
		`{"event":"error"}`, `{"event":1}`, `{"event":null,"ack":7}`, `{"ack":8,"data":1}`, `{"ack":-1}`,
		`{"ack":18446744073709551616}`, `{"event":"echo","ack":0}`, `{"event":"echo","ack":1.5}`,
		`{"event":"echo","event":"chat"}`, `{"event":"a\u0000b"}`, `{`, `[]`, `"x"`, `null`, ``, ` {"event":"echo"}`,
		"\xff", `{"event":"echo","data":"\ud800"}`, strings.Repeat(`{"a":`, 1000),
	} {
		f.Add(s)
	}
	s := newFuzzServer(f, core.Config{PingInterval: -1, ReadLimit: 16 << 10}, eventRoute)
	f.Fuzz(func(t *testing.T, msg string) {
		defer watchdog(30*time.Second, msg)()
		ws, _, err := websocket.DefaultDialer.Dial(s.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(msg) || len(msg) > 16<<10 {
			want := core.CloseInvalidPayload
			if len(msg) > 16<<10 {
				want = core.CloseTooBig
			}
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					if !websocket.IsCloseError(err, want) {
						t.Fatalf("%q: connection ended with %v, want close %d", msg, err, want)
					}
					return
				}
			}
		}
		sentinel := `{"event":"echo","data":"sentinel","ack":` + strconv.Itoa(sentinelAck) + `}`
		if err := ws.WriteMessage(websocket.TextMessage, []byte(sentinel)); err != nil {
			t.Fatal(err)
		}
		readUntilSentinel(t, ws)
		if strings.Contains(s.logs.String(), msg) && len(msg) >= 8 {
			t.Fatalf("the hub logged the message body %q", msg)
		}
	})
}

// FuzzAckReply answers the server's EmitWithAckFunc with arbitrary text
// (where "{ack}" stands for the id the server asked with): the callback
// runs exactly once over the connection's life (with the reply, or
// ErrClosed), whatever the client sends, and the connection stays open.
func FuzzAckReply(f *testing.F) {
	for _, s := range []string{
		`{"ack":{ack},"data":"ok"}`, `{"ack":{ack},"error":{"code":"forbidden","message":"no"}}`, `{"ack":{ack}}`,
		`{"ack":{ack},"data":1}{"ack":{ack}}`, `{"ack":{ack},"event":"echo"}`, `{"ack":0}`, `{"ack":{ack}0}`,
		`{"ack":"{ack}"}`, `{"ack":{ack},"error":"x"}`, `{"ack":{ack},"error":null,"data":[1,2]}`, `{"ack":-{ack}}`,
	} {
		f.Add(s)
	}
	var mu sync.Mutex
	calls := map[string]*atomic.Int32{}
	route := func(c *core.Conn) error {
		n := &atomic.Int32{}
		mu.Lock()
		calls[c.ID()] = n
		mu.Unlock()
		if err := eventRoute(c); err != nil {
			return err
		}
		return c.EmitWithAckFunc("ask", "question", time.Minute, func(json.RawMessage, error) { n.Add(1) })
	}
	s := newFuzzServer(f, core.Config{PingInterval: -1}, route)
	f.Fuzz(func(t *testing.T, reply string) {
		if !utf8.ValidString(reply) || len(reply) > 32<<10 {
			return
		}
		defer watchdog(30*time.Second, reply)()
		ws, _, err := websocket.DefaultDialer.Dial(s.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var ask struct {
			Event string `json:"event"`
			Ack   uint64 `json:"ack"`
		}
		if err := ws.ReadJSON(&ask); err != nil || ask.Event != "ask" || ask.Ack == 0 {
			t.Fatalf("ask = %+v, %v", ask, err)
		}
		msg := strings.ReplaceAll(reply, "{ack}", strconv.FormatUint(ask.Ack, 10))
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		sentinel := `{"event":"echo","data":"sentinel","ack":` + strconv.Itoa(sentinelAck) + `}`
		if err := ws.WriteMessage(websocket.TextMessage, []byte(sentinel)); err != nil {
			t.Fatal(err)
		}
		readUntilSentinel(t, ws)
		var id string
		for _, c := range s.hub.Connections() {
			id = c.ID() // one connection at a time
		}
		mu.Lock()
		n := calls[id]
		mu.Unlock()
		if n == nil {
			t.Fatal("no connection")
		}
		if got := n.Load(); got > 1 {
			t.Fatalf("ack callback ran %d times after %q", got, msg)
		}
		ws.Close()
		eventually(t, "the connection to close", func() bool { return s.hub.Len() == 0 })
		if got := n.Load(); got != 1 {
			t.Fatalf("ack callback ran %d times over the connection's life after %q, want 1", got, msg)
		}
		mu.Lock()
		delete(calls, id)
		mu.Unlock()
	})
}

// pipeListener hands the server ends of net.Pipe connections to an
// http.Server, so the read loop can be fed bytes without TCP.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client end of a new pipe.
func (l *pipeListener) dial() (net.Conn, error) {
	client, srv := net.Pipe()
	select {
	case l.conns <- srv:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// framesFrom turns fuzz input into complete, masked client frames: each
// frame is a header byte (FIN, RSV and opcode bits as on the wire), a
// length byte (255 means two more bytes of length, the payload then
// repeating one byte) and that many payload bytes. Every frame is complete,
// so the server always has a whole frame to judge.
func framesFrom(data []byte) []byte {
	var out []byte
	for len(data) >= 2 {
		b0, n := data[0], int(data[1])
		data = data[2:]
		var payload []byte
		if n == 255 && len(data) >= 3 {
			n = int(binary.BigEndian.Uint16(data)) * 2
			payload = []byte(strings.Repeat(string(data[2:3]), n))
			data = data[3:]
		} else {
			n = min(n, len(data))
			payload, data = data[:n], data[n:]
		}
		out = append(out, rawws.Frame{Fin: b0&0x80 != 0, Rsv: b0 >> 4 & 7, Op: b0 & 0x0f, Payload: payload}.Bytes()...)
	}
	return out
}

// echoedCode returns the code of the first close frame in fuzz input (as
// framesFrom reads it), which the server echoes when it is valid; 0 when
// there is none.
func echoedCode(data []byte) int {
	for len(data) >= 2 {
		b0, n := data[0], int(data[1])
		data = data[2:]
		if n == 255 && len(data) >= 3 {
			if b0&0x0f == 0x8 {
				return int(data[2])<<8 | int(data[2])
			}
			data = data[3:]
			continue
		}
		n = min(n, len(data))
		if b0&0x0f == 0x8 && n >= 2 {
			return int(binary.BigEndian.Uint16(data))
		}
		data = data[n:]
	}
	return 0
}

// validPeerCode reports whether a peer may send code in a close frame.
func validPeerCode(code int) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1013 || code >= 3000 && code <= 4999
}

// FuzzReadLoop feeds arbitrary frames to a connection's read loop over
// net.Pipe, then a normal close. Whatever arrives, the server answers with
// a close frame carrying a code the protocol allows (or drops the
// connection), never panics, and the connection leaves its rooms.
func FuzzReadLoop(f *testing.F) {
	f.Add([]byte("\x81\x05hello"))
	f.Add([]byte("\x01\x03abc\x89\x01p\x80\x03def"))
	f.Add([]byte("\x91\x01x"))
	f.Add([]byte("\x83\x00"))
	f.Add([]byte("\x09\x01x\x80\x00"))
	f.Add([]byte("\x88\x02\x03\xe7"))
	f.Add([]byte("\x88\x01\x03"))
	f.Add([]byte("\x81\x03\xed\xa0\x80"))
	f.Add([]byte("\x81\xff\x80\x00a"))
	f.Add([]byte("\x82\xff\x01\x00z"))
	f.Add([]byte("\x89\x7e" + strings.Repeat("p", 126)))
	f.Add([]byte("\x80\x01x"))
	f.Add([]byte("\x81\x14{\"event\":\"echo\",\"a\":1}"))
	logs := &syncBuffer{}
	hub, err := core.NewHub(core.Config{PingInterval: -1, ReadLimit: 32 << 10,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(abuseRoute))
	l := newPipeListener()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: newStdLogger(io.Discard)}
	go func() { _ = srv.Serve(l) }()
	f.Cleanup(func() {
		_ = hub.Close()
		_ = srv.Shutdown(context.Background())
	})
	allowed := map[int]bool{1000: true, 1002: true, 1005: true, 1006: true, 1007: true, 1009: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(30*time.Second, data)()
		nc, err := l.dial()
		if err != nil {
			t.Fatal(err)
		}
		c := rawws.NewConn(nc)
		if err := c.Handshake("pipe", "/ws/fuzz", nil, nil, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		send := append(framesFrom(data), closeFrame(1000, "").Bytes()...)
		go func() { _ = c.Write(send) }()
		res := c.Drain(10 * time.Second)
		if echo := echoedCode(data); !allowed[res.Code] && (res.Code != echo || !validPeerCode(echo)) {
			t.Fatalf("close code %d %q for %q", res.Code, res.Reason, data)
		}
		if res.Code != rawws.CloseAbnormal && res.Err != nil {
			t.Fatalf("server frames: %v", res.Err)
		}
		for _, m := range res.Messages {
			if m.Op == rawws.OpText && !utf8.Valid(m.Payload) {
				t.Fatalf("server relayed invalid UTF-8 %q", m.Payload)
			}
		}
		eventually(t, "the connection to leave", func() bool { return hub.Len() == 0 && len(hub.Rooms()) == 0 })
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Fatalf("hub logged an error for %q:\n%s", data, logs.String())
		}
	})
}

// newHTTPServerF serves h for a fuzz target and returns its URL.
func newHTTPServerF(f *testing.F, h http.Handler) string {
	f.Helper()
	srv := newLoopbackServer(h)
	f.Cleanup(srv.Close)
	return srv.URL
}

// FuzzReadChunking sends the same frames twice over TCP (so through the
// poller where the platform has one): once in one write, once cut into
// pieces of any size. The reader must not care where the stream is cut:
// the same messages come back, in the same order, with the same close code.
func FuzzReadChunking(f *testing.F) {
	f.Add([]byte("\x81\x05hello"), uint8(1))
	f.Add([]byte("\x01\x03abc\x89\x01p\x80\x03def"), uint8(2))
	f.Add([]byte("\x81\x0c\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4"), uint8(3))
	f.Add([]byte("\x82\xff\x01\x00z"), uint8(7))
	f.Add([]byte("\x81\x03\xed\xa0\x80"), uint8(1))
	f.Add([]byte("\x88\x01\x03"), uint8(1))
	logs := &syncBuffer{}
	hub, err := core.NewHub(core.Config{PingInterval: -1, ReadLimit: 32 << 10,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(abuseRoute))
	srv := newLoopbackServer(mux)
	f.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	addr := strings.TrimPrefix(srv.URL, "http://")
	run := func(t *testing.T, stream []byte, chop int) rawws.Result {
		c, err := rawws.Dial(addr, "/ws/fuzz", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() { _ = c.WriteChopped(stream, chop) }()
		return c.Drain(10 * time.Second)
	}
	f.Fuzz(func(t *testing.T, data []byte, chop uint8) {
		defer watchdog(30*time.Second, data)()
		stream := append(framesFrom(data), closeFrame(1000, "").Bytes()...)
		whole := run(t, stream, len(stream))
		cut := run(t, stream, max(1, int(chop)))
		if whole.Code != cut.Code || len(whole.Messages) != len(cut.Messages) {
			t.Fatalf("in one write: %d messages, close %d; in %d-byte pieces: %d messages, close %d (%q)",
				len(whole.Messages), whole.Code, chop, len(cut.Messages), cut.Code, data)
		}
		for i := range whole.Messages {
			if whole.Messages[i].Op != cut.Messages[i].Op || !bytes.Equal(whole.Messages[i].Payload, cut.Messages[i].Payload) {
				t.Fatalf("message %d differs when the stream is cut in %d-byte pieces (%q)", i, chop, data)
			}
		}
		eventually(t, "the connections to leave", func() bool { return hub.Len() == 0 && len(hub.Rooms()) == 0 })
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Fatalf("hub logged an error for %q:\n%s", data, logs.String())
		}
	})
}
