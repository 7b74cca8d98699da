package core_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// dialRaw connects a gorilla client; recvBuf, when positive, shrinks the
// client's TCP receive buffer (before connecting, so the window is
// negotiated for it) so a client that stops reading stalls the server's
// writes soon.
func dialRaw(t *testing.T, url string, recvBuf int) *websocket.Conn {
	t.Helper()
	nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		if recvBuf <= 0 {
			return nil
		}
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = setRecvBuf(fd, recvBuf)
		})
		return errors.Join(err, serr)
	}}
	d := websocket.Dialer{NetDialContext: nd.DialContext}
	ws, _, err := d.Dial(strings.Replace(url, "http", "ws", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// A client that pipelines 1,000 acked chats into a busy room and reads as
// fast as it can is never taken for a slow consumer: every ack arrives.
func TestPipelinedAckedChatsInBusyRoom(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	client := dialRaw(t, s.url("busy"), 0)
	member := wstest.Dial(t, s.url("busy"))
	eventually(t, "two members", func() bool { r, _ := s.hub.Room("busy"); return r.Members == 2 })

	stop := make(chan struct{})
	var chatter sync.WaitGroup
	chatter.Add(1)
	go func() { // another member chats every 2 ms, and reads what it gets
		defer chatter.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = member.Conn().WriteMessage(websocket.TextMessage, []byte(`{"event":"chat","data":"busy"}`))
			}
		}
	}()
	var drain sync.WaitGroup
	drain.Add(1)
	go func() {
		defer drain.Done()
		for {
			if _, _, err := member.Conn().ReadMessage(); err != nil {
				return
			}
		}
	}()

	const n = 1000
	go func() {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.Reset()
			fmt.Fprintf(&b, `{"event":"chat","data":"msg %d","ack":%d}`, i, i)
			if client.WriteMessage(websocket.TextMessage, []byte(b.String())) != nil {
				return
			}
		}
	}()
	acks := 0
	_ = client.SetReadDeadline(time.Now().Add(30 * time.Second))
	for acks < n {
		_, data, err := client.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d acks: %v", acks, n, err)
		}
		var env struct{ Ack uint64 }
		if json.Unmarshal(data, &env) == nil && env.Ack > 0 {
			acks++
			if env.Ack != uint64(acks) {
				t.Fatalf("ack %d arrived as number %d", env.Ack, acks)
			}
		}
	}
	close(stop)
	chatter.Wait()
	member.Abort()
	drain.Wait()
	st := s.hub.Stats()
	if st.SlowCloses != 0 || st.Drops != 0 {
		t.Fatalf("SlowCloses %d, Drops %d; want 0", st.SlowCloses, st.Drops)
	}
	t.Logf("reads paused %d times", st.Pauses)
}

// When a 500-member room empties at once, a member that reads in a tight
// loop reads every "left" event and stays connected.
func TestMassLeaveReachesEveryone(t *testing.T) {
	t.Parallel()
	const n = 500
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		room := c.Param("room")
		c.OnClose(func(c *core.Conn, _ int, _ string) {
			_, _ = c.To(room).Emit("left", c.ID())
		})
		return c.Join(room)
	})
	watcher := dialRaw(t, s.url("hall"), 0)
	others := make([]*websocket.Conn, n-1)
	for i := range others {
		others[i] = dialRaw(t, s.url("hall"), 0)
	}
	eventually(t, "every member", func() bool { r, _ := s.hub.Room("hall"); return r.Members == n })
	for _, o := range others {
		_ = o.UnderlyingConn().Close()
	}
	_ = watcher.SetReadDeadline(time.Now().Add(30 * time.Second))
	for got := 0; got < n-1; got++ {
		_, data, err := watcher.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d left events: %v", got, n-1, err)
		}
		if !strings.Contains(string(data), `"event":"left"`) {
			t.Fatalf("unexpected message %s", data)
		}
	}
	if st := s.hub.Stats(); st.SlowCloses != 0 || st.Drops != 0 {
		t.Fatalf("SlowCloses %d, Drops %d; want 0", st.SlowCloses, st.Drops)
	}
}

// stallServer is a room whose broadcasts are numbered, with a slow-consumer
// grace short enough for a test.
func stallServer(t *testing.T, writeTimeout time.Duration) *server {
	return newServer(t, core.Config{
		SendQueueBytes:    64 << 10,
		SlowConsumerGrace: 100 * time.Millisecond,
		WriteTimeout:      writeTimeout,
		PingInterval:      -1,
	}, chat)
}

// fillUntilSlowClose broadcasts numbered 8 KiB messages to the room until
// the hub has closed a slow consumer (its queue reached twice its bound, or
// stayed over it for the grace), and returns how many it sent.
func fillUntilSlowClose(t *testing.T, s *server, room string) int {
	t.Helper()
	pad := strings.Repeat("p", 8<<10)
	deadline := time.Now().Add(30 * time.Second)
	for seq := 1; ; seq++ {
		if _, err := s.hub.To(room).Emit("news", map[string]any{"seq": seq, "pad": pad}); err != nil {
			t.Fatal(err)
		}
		if s.hub.Stats().SlowCloses > 0 {
			return seq
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slow close after %d messages in 30s; stats %+v", seq, s.hub.Stats())
		}
	}
}

// A client that stops reading and resumes within the grace reads whole
// messages, in order, and then the 1008 close frame: no frame is cut.
func TestStalledClientReadsCompleteFramesThen1008(t *testing.T) {
	t.Parallel()
	s := stallServer(t, 5*time.Second)
	stalled := dialRaw(t, s.url("feed"), 4096)
	bystander := wstest.Dial(t, s.url("other"))
	eventually(t, "the member", func() bool { r, _ := s.hub.Room("feed"); return r.Members == 1 })
	sent := fillUntilSlowClose(t, s, "feed")

	_ = stalled.SetReadDeadline(time.Now().Add(30 * time.Second))
	next := 1
	for {
		_, data, err := stalled.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("after %d whole messages: %v; want close 1008", next-1, err)
			}
			break
		}
		var env struct {
			Data struct {
				Seq int
				Pad string
			}
		}
		if err := json.Unmarshal(data, &env); err != nil || len(env.Data.Pad) != 8<<10 {
			t.Fatalf("message %d is not whole: %d bytes, %v", next, len(data), err)
		}
		if env.Data.Seq != next {
			t.Fatalf("message %d arrived as %d", env.Data.Seq, next)
		}
		next++
	}
	if next-1 > sent {
		t.Fatalf("read %d messages of %d sent", next-1, sent)
	}
	roundTrip(t, bystander)
	if st := s.hub.Stats(); st.SlowCloses != 1 {
		t.Fatalf("SlowCloses = %d, want 1", st.SlowCloses)
	}
}

// A client that never reads again is dropped once the grace for its last
// frame and the close frame has passed; it is counted, leaves its room, and
// others are unaffected.
func TestStalledClientNeverReadingIsDropped(t *testing.T) {
	t.Parallel()
	s := stallServer(t, 200*time.Millisecond)
	dialRaw(t, s.url("feed"), 4096)
	bystander := wstest.Dial(t, s.url("other"))
	eventually(t, "the member", func() bool { r, _ := s.hub.Room("feed"); return r.Members == 1 })
	fillUntilSlowClose(t, s, "feed")
	eventually(t, "the stalled client to be dropped", func() bool {
		_, ok := s.hub.Room("feed")
		return !ok && s.hub.Stats().Connections == 1
	})
	roundTrip(t, bystander)
	if st := s.hub.Stats(); st.SlowCloses != 1 {
		t.Fatalf("SlowCloses = %d, want 1", st.SlowCloses)
	}
}

// Shutdown and Close return by the time their context ends, whatever the
// route handler does: wait on the connection's Context (the habit of gorilla
// and melody users), call EmitWithAck, or block outright.
func TestBlockingRouteHandlers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var ackErr atomic.Value
	handlers := map[string]core.HandlerFunc{
		"context": func(c *core.Conn) error {
			<-c.Context().Done()
			return nil
		},
		"ack": func(c *core.Conn) error {
			_, err := c.EmitWithAck(context.Background(), "hello", nil)
			ackErr.Store(err)
			<-c.Context().Done()
			return nil
		},
		"block": func(c *core.Conn) error {
			<-release
			return nil
		},
	}
	for _, name := range []string{"context", "ack", "block"} {
		for _, how := range []string{"shutdown", "close"} {
			t.Run(name+"/"+how, func(t *testing.T) {
				s := newServer(t, core.Config{}, handlers[name])
				cl := dialRaw(t, s.url("r"), 0)
				reading := make(chan struct{})
				go func() { // a client that reads, and so answers the close frame
					defer close(reading)
					for {
						if _, _, err := cl.ReadMessage(); err != nil {
							return
						}
					}
				}()
				eventually(t, "the connection", func() bool { return s.hub.Stats().Connections == 1 })
				done := make(chan error, 1)
				go func() {
					if how == "close" {
						done <- s.hub.Close()
						return
					}
					// A handler that blocks is cut off when the context
					// ends; the others must finish gracefully before it
					// does, which a busy machine may need seconds for.
					timeout := 10 * time.Second
					if name == "block" {
						timeout = 200 * time.Millisecond
					}
					ctx, cancel := context.WithTimeout(context.Background(), timeout)
					defer cancel()
					done <- s.hub.Shutdown(ctx)
				}()
				select {
				case err := <-done:
					if name != "block" && err != nil {
						t.Fatalf("%s: %v", how, err)
					}
					if name == "block" && how == "shutdown" && !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("shutdown = %v, want context.DeadlineExceeded", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("%s did not return", how)
				}
				_ = cl.UnderlyingConn().Close()
				<-reading
			})
		}
	}
	close(release) // the blocked handlers return; goleak checks nothing is left
	if err, _ := ackErr.Load().(error); !errors.Is(err, core.ErrAckInHandler) {
		t.Fatalf("EmitWithAck in the route handler = %v, want ErrAckInHandler", err)
	}
}

// A handshake with about 900 KB of headers and query costs the connection
// only the bounded copy it keeps after the route handler returns. The
// clients are raw TCP connections, so the heap measured is the server's.
//
// Not parallel: it measures the heap of the whole test process.
func TestHugeHandshakeIsNotKept(t *testing.T) {
	var first atomic.Pointer[core.Conn]
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if got := len(c.Request().Header); got < 450 {
			t.Errorf("route handler saw %d headers, want them all", got)
		}
		first.CompareAndSwap(nil, c)
		return chat(c)
	})
	var hdr strings.Builder
	for i := range 450 {
		fmt.Fprintf(&hdr, "X-Pad-%03d: %s\r\n", i, strings.Repeat("h", 1000))
	}
	path := "/ws/big?q=" + strings.Repeat("x", 400<<10)

	// The least of a few readings, before and after: connections of earlier
	// tests may still be closing.
	leastHeap := func() int64 {
		var ms runtime.MemStats
		least := int64(1<<63 - 1)
		for range 5 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			least = min(least, int64(ms.HeapAlloc))
			// Readings spread over time are the measurement: no event
			// says when an earlier test's connections are all freed.
			time.Sleep(50 * time.Millisecond)
		}
		return least
	}
	before := leastHeap()
	const n = 16
	for range n {
		rawHandshakeWith(t, s.srv.URL, path, hdr.String(), nil)
	}
	eventually(t, "every connection", func() bool { return s.hub.Stats().Connections == n })
	perConn := (leastHeap() - before) / n
	runtime.KeepAlive(hdr.String()) // the client's own copies count on both sides
	runtime.KeepAlive(path)
	t.Logf("heap kept per connection after an 850 KiB handshake: %d bytes", perConn)
	if perConn > 128<<10 { // client and server together; a kept handshake would be 850 KiB
		t.Fatalf("each connection keeps %d KiB of heap, want well under the 850 KiB it sent", perConn>>10)
	}
	r := first.Load().Request()
	kept := len(r.URL.String())
	for k, vs := range r.Header {
		for _, v := range vs {
			kept += len(k) + len(v)
		}
	}
	if kept > core.DefaultKeepRequestBytes {
		t.Fatalf("kept %d bytes of the handshake, want at most %d", kept, core.DefaultKeepRequestBytes)
	}
}

// rawHandshake opens a TCP connection and writes a WebSocket handshake for
// path followed by extra bytes in the same write.
func rawHandshake(t *testing.T, srvURL, path string, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	return rawHandshakeWith(t, srvURL, path, "", extra)
}

// rawHandshakeWith is rawHandshake with extra header lines.
func rawHandshakeWith(t *testing.T, srvURL, path, headers string, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	addr := strings.TrimPrefix(srvURL, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + headers + "\r\n"
	if _, err := nc.Write(append([]byte(req), extra...)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", res.StatusCode)
	}
	return nc, br
}

// readServerFrame reads one unmasked server frame.
func readServerFrame(t *testing.T, br *bufio.Reader) (op byte, payload []byte) {
	t.Helper()
	for {
		op, payload = readAnyServerFrame(t, br)
		if op != 0x9 { // the heartbeat may ping at any time: skip it
			return op, payload
		}
	}
}

// readAnyServerFrame reads the next frame, whatever it is.
func readAnyServerFrame(t *testing.T, br *bufio.Reader) (op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := ioReadFull(br, h[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = ioReadFull(br, b[:])
		n = int(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = ioReadFull(br, b[:])
		n = int(binary.BigEndian.Uint64(b[:]))
	}
	payload = make([]byte, n)
	if _, err := ioReadFull(br, payload); err != nil {
		t.Fatalf("reading a payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

func ioReadFull(br *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := br.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// A frame whose 64-bit length has its top bit set gets a 1002 close frame.
func TestNegativeFrameLengthGets1002(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	bad := []byte{0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}
	_, br := rawHandshake(t, s.srv.URL, "/ws/lobby", nil)
	bystander := wstest.Dial(t, s.url("lobby"))
	nc, br2 := rawHandshake(t, s.srv.URL, "/ws/lobby", nil)
	_ = br
	if _, err := nc.Write(bad); err != nil {
		t.Fatal(err)
	}
	op, payload := readServerFrame(t, br2)
	if op != 0x8 || len(payload) < 2 || binary.BigEndian.Uint16(payload) != 1002 {
		t.Fatalf("got opcode %#x payload %q, want a 1002 close frame", op, payload)
	}
	roundTrip(t, bystander)
}

// A client that sends its first frame in the same packet as its handshake
// is served (the frame is read after the upgrade), and nothing is logged at
// error level.
func TestFrameInHandshakePacket(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	msg := []byte(`{"event":"echo","data":"early"}`)
	_, br := rawHandshake(t, s.srv.URL, "/ws/lobby", frame(true, 0, 0x1, msg))
	op, payload := readServerFrame(t, br)
	if op != 0x1 || !strings.Contains(string(payload), `"early"`) {
		t.Fatalf("got opcode %#x payload %q, want the echo", op, payload)
	}
	if logs := s.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Fatalf("error logged:\n%s", logs)
	}
}

// A client that sends faster than it reads its replies is slowed down, not
// closed: its replies are written by its own read goroutine, which stops
// reading while the socket takes nothing. Once it reads again, every reply
// arrives, whole and in order.
func TestOwnRepliesPushBack(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{SendQueueBytes: 256 << 10}, chat)
	client := dialRaw(t, s.url("lobby"), 16<<10)
	// The heartbeat may ping while the client's own writer is blocked by
	// the push-back: gorilla's default ping handler then fails ReadMessage
	// when its pong cannot be written within a second. A late pong is no
	// fault here, so a failed one is ignored.
	client.SetPingHandler(func(data string) error {
		_ = client.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		return nil
	})
	const n = 2000
	pad := strings.Repeat("e", 4<<10)
	go func() {
		for i := range n {
			msg := fmt.Sprintf(`{"event":"echo","data":"%d %s"}`, i, pad)
			if client.WriteMessage(websocket.TextMessage, []byte(msg)) != nil {
				return
			}
		}
	}()
	// Not reading for a while, as it writes, is the behaviour under test:
	// no Stats counter marks the push-back in both read modes (Pauses
	// counts it only where a read goroutine pauses).
	time.Sleep(300 * time.Millisecond)
	for i := range n {
		// A bound per reply, not for all 2,000: a busy machine may take
		// a while for them, and only a reply that never comes is wrong.
		_ = client.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, data, err := client.ReadMessage()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		var env struct{ Data string }
		if json.Unmarshal(data, &env) != nil || !strings.HasPrefix(env.Data, fmt.Sprintf("%d ", i)) {
			t.Fatalf("reply %d out of order or cut (%d bytes)", i, len(data))
		}
	}
	if st := s.hub.Stats(); st.SlowCloses != 0 || st.Drops != 0 {
		t.Fatalf("SlowCloses %d, Drops %d; want 0", st.SlowCloses, st.Drops)
	}
}

// A route handler still running after HandshakeTimeout is logged once,
// naming the route: its connection's messages are not read meanwhile.
func TestSlowRouteHandlerWarned(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{HandshakeTimeout: 20 * time.Millisecond}, func(c *core.Conn) error {
		<-c.Context().Done()
		return nil
	})
	cl := wstest.Dial(t, s.url("slow"))
	eventually(t, "the warning", func() bool { return strings.Contains(s.logs.String(), "route handler still running") })
	if logs := s.logs.String(); !strings.Contains(logs, "route=/ws/{room}") || strings.Count(logs, "route handler still running") != 1 {
		t.Fatalf("warning does not name the route once:\n%s", logs)
	}
	cl.Abort()
}

// Broadcasts to a room are written to idle members by one flusher without
// blocking; a member whose socket takes only part of a batch gets the rest
// from a writer of its own. Every member, fast or slow to read, reads every
// message whole and in order.
func TestBroadcastToMixedReaders(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{SendQueueBytes: 8 << 20}, chat)
	const members, n = 8, 200
	conns := make([]*websocket.Conn, members)
	for i := range conns {
		buf := 0
		if i%3 == 0 {
			buf = 4096 // takes a little at a time
		}
		conns[i] = dialRaw(t, s.url("mixed"), buf)
	}
	eventually(t, "every member", func() bool { r, _ := s.hub.Room("mixed"); return r.Members == members })
	sizes := []int{10, 200, 5000, 70000}
	errs := make(chan error, members)
	for i, ws := range conns {
		go func() {
			_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
			for want := range n {
				if i%3 == 0 && want%50 == 0 {
					// A slow reader is the peer under test: it takes
					// its time, whatever the server does.
					time.Sleep(5 * time.Millisecond)
				}
				_, data, err := ws.ReadMessage()
				if err != nil {
					errs <- fmt.Errorf("member %d, message %d: %v", i, want, err)
					return
				}
				var env struct {
					Data struct {
						Seq int
						Pad string
					}
				}
				if json.Unmarshal(data, &env) != nil || env.Data.Seq != want || len(env.Data.Pad) != sizes[want%len(sizes)] {
					errs <- fmt.Errorf("member %d: message %d wrong or cut (%d bytes)", i, want, len(data))
					return
				}
			}
			errs <- nil
		}()
	}
	for seq := range n {
		pad := strings.Repeat("m", sizes[seq%len(sizes)])
		if _, err := s.hub.To("mixed").Emit("news", map[string]any{"seq": seq, "pad": pad}); err != nil {
			t.Fatal(err)
		}
		if seq%20 == 0 {
			// Let the flusher find idle members: everything so far written.
			eventually(t, fmt.Sprintf("broadcast %d to be written to every member", seq), func() bool {
				return s.hub.Stats().MessagesOut >= uint64(members*(seq+1))
			})
		}
	}
	for range members {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Each message is counted once written, which may be just after it arrives.
	eventually(t, "every delivery counted", func() bool { return s.hub.Stats().MessagesOut >= members*n })
	if st := s.hub.Stats(); st.SlowCloses != 0 || st.Drops != 0 {
		t.Fatalf("SlowCloses %d, Drops %d; want 0", st.SlowCloses, st.Drops)
	}
}
