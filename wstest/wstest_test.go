package wstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wire is the union of the protocol's message shapes, for the test server.
type wire struct {
	Event string            `json:"event,omitempty"`
	Data  json.RawMessage   `json:"data,omitempty"`
	Ack   uint64            `json:"ack,omitempty"`
	Error *wstest.ErrorData `json:"error,omitempty"`
}

// protocolServer is a small server speaking the wire protocol with gorilla
// directly, so these tests do not depend on the rest of the library. It
// refuses handshakes without ?token with 401 and a JSON body, and then:
//   - echoes binary frames;
//   - answers text that is not an envelope with a bad_request error event;
//   - "close": closes with 4000 "bye";
//   - "ask": sends event "question" with the same data and ack id 7, and
//     relays the client's reply to it as event "answer";
//   - "fail" with an ack: replies with a forbidden error;
//   - "twice": sends "first" then "second";
//   - anything else: echoes the event, then replies to its ack with the data.
//
// Its handler returns when the connection ends, and reports how on closed.
func protocolServer(closed chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":"unauthorized","message":"token required"}`)
			return
		}
		var up websocket.Upgrader
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		send := func(m wire) { _ = conn.WriteJSON(m) }
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				if closed != nil {
					closed <- err
				}
				return
			}
			var in wire
			switch {
			case typ == websocket.BinaryMessage:
				_ = conn.WriteMessage(typ, data)
			case json.Unmarshal(data, &in) != nil:
				send(wire{Event: "error", Data: json.RawMessage(`{"code":"bad_request","message":"not an event"}`)})
			case in.Event == "" && in.Ack == 7:
				send(wire{Event: "answer", Data: data})
			case in.Event == "close":
				msg := websocket.FormatCloseMessage(4000, "bye")
				_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			case in.Event == "ask":
				send(wire{Event: "question", Data: in.Data, Ack: 7})
			case in.Event == "fail":
				send(wire{Ack: in.Ack, Error: &wstest.ErrorData{Code: "forbidden", Message: "nope"}})
			case in.Event == "twice":
				send(wire{Event: "first", Data: json.RawMessage(`1`)})
				send(wire{Event: "second", Data: json.RawMessage(`2`)})
			default:
				send(wire{Event: in.Event, Data: in.Data})
				if in.Ack != 0 {
					send(wire{Ack: in.Ack, Data: in.Data})
				}
			}
		}
	})
}

func dial(t *testing.T, opts ...wstest.Option) *wstest.Client {
	t.Helper()
	return wstest.DialHandler(t, protocolServer(nil), "/ws?token=ok", opts...)
}

func TestEmitExpect(t *testing.T) {
	t.Parallel()
	c := dial(t)
	c.Emit("chat", map[string]string{"text": "hi"})
	var got struct{ Text string }
	c.ExpectInto("chat", &got)
	if got.Text != "hi" {
		t.Errorf("chat data text = %q, want %q", got.Text, "hi")
	}
}

func TestExpectKeepsOtherFramesInOrder(t *testing.T) {
	t.Parallel()
	c := dial(t)
	c.Emit("twice", nil)
	if got := string(c.Expect("second")); got != "2" {
		t.Errorf("second = %s, want 2", got)
	}
	if got := string(c.Expect("first")); got != "1" {
		t.Errorf("first = %s, want 1", got)
	}
	c.Emit("twice", nil)
	c.Send("not json")
	for _, want := range []string{`{"event":"first","data":1}`, `{"event":"second","data":2}`} {
		if typ, data := c.ExpectMessage(); typ != websocket.TextMessage || strings.TrimSpace(string(data)) != want {
			t.Errorf("ExpectMessage() = %d %s, want text %s", typ, data, want)
		}
	}
	c.ExpectError("bad_request")
}

func TestEmitWithAck(t *testing.T) {
	t.Parallel()
	c := dial(t)
	for i := 1; i <= 2; i++ {
		r := c.EmitWithAck("chat", i)
		if string(r.Data) != fmt.Sprint(i) || r.Err != nil {
			t.Errorf("reply %d = %s, %v; want %d, nil", i, r.Data, r.Err, i)
		}
	}
	// The echoes that arrived before each reply were kept.
	for i := 1; i <= 2; i++ {
		if got := string(c.Expect("chat")); got != fmt.Sprint(i) {
			t.Errorf("echo %d = %s", i, got)
		}
	}
	r := c.EmitWithAck("fail", nil)
	if r.Err == nil || r.Err.Code != "forbidden" || r.Err.Message != "nope" {
		t.Errorf("fail reply error = %+v, want forbidden/nope", r.Err)
	}
}

func TestServerInitiatedAck(t *testing.T) {
	t.Parallel()
	c := dial(t)
	c.Emit("ask", "ready?")
	ev := c.ExpectEvent("question")
	if ev.Name != "question" || ev.Ack != 7 || string(ev.Data) != `"ready?"` {
		t.Fatalf("question = %+v, want ack 7 and data \"ready?\"", ev)
	}
	c.Ack(ev.Ack, "yes")
	var answer struct {
		Ack  uint64
		Data string
	}
	c.ExpectInto("answer", &answer)
	if answer.Ack != 7 || answer.Data != "yes" {
		t.Errorf("answer = %+v, want ack 7, data yes", answer)
	}

	c.Emit("ask", nil)
	c.AckError(c.ExpectEvent("question").Ack, "forbidden", "no")
	var refusal struct{ Error wstest.ErrorData }
	c.ExpectInto("answer", &refusal)
	if refusal.Error != (wstest.ErrorData{Code: "forbidden", Message: "no"}) {
		t.Errorf("answer error = %+v, want forbidden/no", refusal.Error)
	}
}

func TestSendBinary(t *testing.T) {
	t.Parallel()
	c := dial(t)
	c.SendBinary([]byte{0, 1, 2})
	typ, data := c.ExpectMessage()
	if typ != websocket.BinaryMessage || string(data) != "\x00\x01\x02" {
		t.Errorf("ExpectMessage() = %d %x, want binary 000102", typ, data)
	}
}

func TestExpectNoEventKeepsConnectionUsable(t *testing.T) {
	t.Parallel()
	c := dial(t)
	c.Emit("chat", "kept")
	c.ExpectNoEvent("other", 50*time.Millisecond)
	c.ExpectNoEvent("other", 20*time.Millisecond) // a read is in flight now
	c.Emit("next", 2)
	if got := string(c.Expect("next")); got != "2" {
		t.Errorf("next = %s, want 2", got)
	}
	if got := string(c.Expect("chat")); got != `"kept"` {
		t.Errorf("chat = %s, want \"kept\"", got)
	}
}

func TestExpectClose(t *testing.T) {
	t.Parallel()
	c := dial(t)
	c.Emit("chat", "before")
	c.Emit("close", nil)
	if reason := c.ExpectClose(4000); reason != "bye" {
		t.Errorf("close reason = %q, want bye", reason)
	}
	if got := string(c.Expect("chat")); got != `"before"` {
		t.Errorf("frame kept before close = %s", got)
	}
}

func TestTryDialRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(protocolServer(nil))
	defer srv.Close()
	c, resp, err := wstest.TryDial(context.Background(), srv.URL+"/ws")
	if err == nil {
		c.Close()
		t.Fatal("TryDial without token succeeded, want refusal")
	}
	if !errors.Is(err, websocket.ErrBadHandshake) {
		t.Errorf("err = %v, want ErrBadHandshake", err)
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("resp = %v, want 401", resp)
	}
	var body wstest.ErrorData
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Code != "unauthorized" {
		t.Errorf("body = %+v, %v; want code unauthorized", body, err)
	}
}

func TestTryDialBind(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(protocolServer(nil))
	defer srv.Close()
	c, resp, err := wstest.TryDial(context.Background(), srv.URL+"/ws?token=ok", wstest.WithSubprotocols("chat.v1"))
	if err != nil {
		t.Fatal(err)
	}
	c.Bind(t)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("status = %d, want 101", resp.StatusCode)
	}
	c.Emit("chat", 1)
	c.Expect("chat")
}

func TestClientCloses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		close func(*wstest.Client)
		check func(error) bool
	}{
		{"Close", (*wstest.Client).Close, func(err error) bool {
			return websocket.IsCloseError(err, websocket.CloseNormalClosure)
		}},
		{"CloseWith", func(c *wstest.Client) { c.CloseWith(4001, "x") }, func(err error) bool {
			var ce *websocket.CloseError
			return errors.As(err, &ce) && ce.Code == 4001 && ce.Text == "x"
		}},
		{"Abort", (*wstest.Client).Abort, func(err error) bool {
			return errors.Is(err, syscall.ECONNRESET)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			closed := make(chan error, 1)
			c := wstest.DialHandler(t, protocolServer(closed), "/ws?token=ok")
			c.Emit("chat", nil)
			c.Expect("chat")
			tt.close(c)
			tt.close(c) // a second call is harmless
			select {
			case err := <-closed:
				if !tt.check(err) {
					t.Errorf("server saw %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("server did not see the connection end")
			}
		})
	}
}

func TestCloseFromAnotherGoroutineEndsWait(t *testing.T) {
	t.Parallel()
	c := dial(t, wstest.WithTimeout(5*time.Second))
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.Close()
	}()
	start := time.Now()
	msg := mustFail(t, c, func(testing.TB) { c.Expect("never") })
	// The read ends with the server's answer to the close frame, or with the
	// closed socket, whichever comes first; either way, well before the timeout.
	if !strings.Contains(msg, "connection closed") || time.Since(start) > 4*time.Second {
		t.Errorf("failure after %v = %q, want the wait to end because of Close", time.Since(start), msg)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, so the kit's own failures can be asserted.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// mustFail runs f in its own goroutine with a recorder, to which c (if not
// nil) is bound meanwhile, and returns the failure, failing t if there was
// none.
func mustFail(t *testing.T, c *wstest.Client, f func(tb testing.TB)) string {
	t.Helper()
	rec := &fatalRecorder{TB: t}
	if c != nil {
		c.Bind(rec)
		defer c.Bind(t)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(rec)
	}()
	<-done
	if rec.msg == "" {
		t.Fatal("want a test failure, got none")
	}
	return rec.msg
}

func TestFailures(t *testing.T) {
	t.Parallel()
	short := wstest.WithTimeout(100 * time.Millisecond)
	tests := []struct {
		name string
		run  func(c *wstest.Client)
		want []string
	}{
		{"Expect times out", func(c *wstest.Client) {
			c.Emit("chat", "hi")
			c.Expect("other")
		}, []string{`no event "other" within 100ms; received instead: `, `text "{\"event\":\"chat\",\"data\":\"hi\"}`}},
		{"Expect after close", func(c *wstest.Client) {
			c.Emit("close", nil)
			c.Expect("other")
		}, []string{"connection closed", "4000", `before event "other"`}},
		{"ExpectInto bad data", func(c *wstest.Client) {
			c.Emit("chat", "text")
			var n int
			c.ExpectInto("chat", &n)
		}, []string{`event "chat": decoding data "text"`}},
		{"ExpectError other code", func(c *wstest.Client) {
			c.Send("not json")
			c.ExpectError("forbidden")
		}, []string{`got error event "bad_request"`, `want code "forbidden"`}},
		{"EmitWithAck no reply", func(c *wstest.Client) {
			c.EmitWithAck("close", nil)
		}, []string{`reply to ack 1 (event "close")`, "4000"}},
		{"ExpectNoEvent gets it", func(c *wstest.Client) {
			c.Emit("chat", "hi")
			c.ExpectNoEvent("chat", time.Second)
		}, []string{`got event "chat" within 1s, want none`}},
		{"ExpectNoEvent kept", func(c *wstest.Client) {
			c.Emit("twice", nil)
			c.Expect("second")
			c.ExpectNoEvent("first", time.Millisecond)
		}, []string{`got event "first", want none`}},
		{"ExpectClose still open", func(c *wstest.Client) {
			c.ExpectClose(4000)
		}, []string{"connection still open after 100ms, want close 4000"}},
		{"ExpectClose other code", func(c *wstest.Client) {
			c.Emit("close", nil)
			c.ExpectClose(1000)
		}, []string{`closed with 4000 ("bye"), want 1000`}},
		{"ExpectMessage times out", func(c *wstest.Client) {
			c.ExpectMessage()
		}, []string{"no message within 100ms; received instead: nothing"}},
		{"Emit after close", func(c *wstest.Client) {
			c.Close()
			c.Emit("chat", nil)
		}, []string{"wstest: Emit:"}},
		{"Emit bad data", func(c *wstest.Client) {
			c.Emit("chat", make(chan int))
		}, []string{"wstest: Emit: json: unsupported type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, short)
			msg := mustFail(t, c, func(testing.TB) { tt.run(c) })
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("failure %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func TestExpectCloseAbnormal(t *testing.T) {
	t.Parallel()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var up websocket.Upgrader
		if conn, err := up.Upgrade(w, r, nil); err == nil {
			conn.Close() // no close frame
		}
	})
	c := wstest.DialHandler(t, handler, "/")
	msg := mustFail(t, c, func(testing.TB) { c.ExpectClose(1000) })
	if !strings.Contains(msg, "closed with 1006") {
		t.Errorf("failure = %q, want it to report 1006", msg)
	}
}

func TestDialRefusedFails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(protocolServer(nil))
	defer srv.Close()
	msg := mustFail(t, nil, func(tb testing.TB) {
		wstest.Dial(tb, srv.URL)
	})
	for _, want := range []string{"bad handshake", "401 Unauthorized", "token required"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure %q does not contain %q", msg, want)
		}
	}
}

func TestUnboundClientPanics(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(protocolServer(nil))
	defer srv.Close()
	c, _, err := wstest.TryDial(context.Background(), srv.URL+"/?token=ok", wstest.WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `no event "x"`) {
			t.Errorf("recovered %v, want a panic about event x", r)
		}
	}()
	c.Expect("x")
}
