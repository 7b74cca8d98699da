package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

type clientKind int

const (
	healthy  clientKind = iota
	slow                // stops reading after joining the firehose
	resetter            // resets its TCP connection instead of saying goodbye
	flooder             // healthy, and publishes to the firehose as fast as allowed
)

func (k clientKind) String() string {
	return [...]string{"healthy", "slow", "resetter", "flooder"}[k]
}

// track follows one room (from one origin hub) during one membership:
// the join reply's sequence number and what arrived since.
type track struct {
	j, first, last, count uint64
	gaps                  uint64 // messages skipped between two received
	hasJ                  bool
	ordered               bool // every number was above the one before
}

func (t *track) add(s uint64) {
	switch {
	case t.count == 0:
		t.first, t.ordered = s, true
	case s <= t.last:
		t.ordered = false
	case s > t.last+1:
		t.gaps += s - t.last - 1
	}
	t.last = max(t.last, s)
	t.count++
}

// exact checks a local membership: exactly the messages j+1..l, in order.
func (t *track) exact(l uint64) error {
	want := l - t.j
	if t.count != want || (want > 0 && (t.first != t.j+1 || t.last != l || !t.ordered || t.gaps > 0)) {
		return fmt.Errorf("got %d messages %d..%d (ordered %v), want %d..%d", t.count, t.first, t.last, t.ordered, t.j+1, l)
	}
	return nil
}

// dialer dials from rotating source addresses 127.0.0.2 to 127.0.0.254.
type dialer struct{ next atomic.Uint32 }

func (d *dialer) dial(ctx context.Context, addr string, rcvbuf int) (*websocket.Conn, error) {
	i := d.next.Add(1)
	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%253))}, Timeout: 10 * time.Second}
	if rcvbuf > 0 {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	wd := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	ws, _, err := wd.DialContext(ctx, "ws://"+addr+"/ws", http.Header{})
	return ws, err
}

// client is one simulated user.
type client struct {
	run  *soakRun
	kind clientKind
	hub  int
	ws   *websocket.Conn

	wmu   sync.Mutex
	ackCh chan json.RawMessage
	ackID uint64

	mu     sync.Mutex
	tracks map[string]*track // room + "@" + origin hub
	direct track
	joined map[string]bool
	errs   []string

	readDone chan struct{}
	readErr  error
	received uint64
	sent     uint64
}

func (c *client) fail(format string, args ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

func key(room string, hub int) string { return fmt.Sprintf("%s@%d", room, hub) }

// readLoop reads until the connection ends; a slow client stops reading
// once its first ack reply has arrived.
func (c *client) readLoop(stopAfterAck bool) {
	defer close(c.readDone)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.readErr = err
			return
		}
		c.mu.Lock()
		c.received++
		c.mu.Unlock()
		var env struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
			Ack   uint64          `json:"ack"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			c.fail("malformed message %.200q", b)
			continue
		}
		if env.Event == "" && env.Ack > 0 {
			if env.Error != nil {
				c.fail("ack reply %.200q", b)
			}
			select {
			case c.ackCh <- env.Data:
			default:
				c.fail("unexpected ack reply %.200q", b)
			}
			if stopAfterAck {
				return
			}
			continue
		}
		switch env.Event {
		case "m":
			var m roomMsg
			if err := json.Unmarshal(env.Data, &m); err != nil {
				c.fail("malformed room message %.200q", b)
				continue
			}
			c.run.latency.observe(time.Duration(time.Now().UnixNano() - m.T))
			c.mu.Lock()
			k := key(m.R, m.H)
			t := c.tracks[k]
			if t == nil {
				t = &track{}
				c.tracks[k] = t
			}
			gaps := t.gaps
			t.add(m.S)
			gapped := t.gaps > gaps
			c.mu.Unlock()
			if gapped && m.H != c.hub {
				c.run.remoteGap(m.T)
			}
		case "d":
			var n uint64
			if err := json.Unmarshal(env.Data, &n); err != nil {
				c.fail("malformed direct message %.200q", b)
				continue
			}
			c.mu.Lock()
			c.direct.add(n)
			c.mu.Unlock()
		default:
			c.fail("unexpected event %.200q", b)
		}
	}
}

// request sends an event with an ack and waits for the reply.
func (c *client) request(event string, data any) (json.RawMessage, error) {
	c.ackID++
	if err := c.write(map[string]any{"event": event, "data": data, "ack": c.ackID}); err != nil {
		return nil, err
	}
	select {
	case d := <-c.ackCh:
		return d, nil
	case <-c.readDone:
		// A slow client's reader stops right after it hands over the
		// reply: take the reply if it is there.
		select {
		case d := <-c.ackCh:
			return d, nil
		default:
		}
		return nil, fmt.Errorf("connection ended waiting for %s: %v", event, c.readErr)
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("no reply to %s within 30s", event)
	}
}

func (c *client) write(v any) error {
	b, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return err
	}
	c.sent++
	return nil
}

func (c *client) join(room string) error {
	c.mu.Lock()
	if c.joined[room] { // joining twice does nothing; the membership goes on
		c.mu.Unlock()
		return nil
	}
	k := key(room, c.hub)
	if c.tracks[k] == nil {
		c.tracks[k] = &track{}
	}
	c.mu.Unlock()
	d, err := c.request("join", room)
	if err != nil {
		return err
	}
	var j uint64
	if err := json.Unmarshal(d, &j); err != nil {
		return fmt.Errorf("join reply %q", d)
	}
	c.mu.Lock()
	t := c.tracks[k]
	t.j, t.hasJ = j, true
	c.joined[room] = true
	c.mu.Unlock()
	return nil
}

// check verifies one room at its leave (last sequence l) and forgets it.
func (c *client) check(room string, l uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.joined, room)
	for k, t := range c.tracks {
		r, h := splitKey(k)
		if r != room {
			continue
		}
		if h == c.hub {
			if err := t.exact(l); err != nil {
				c.errs = append(c.errs, fmt.Sprintf("room %s: %v", room, err))
			}
		} else {
			c.run.remote.add(t)
		}
		delete(c.tracks, k)
	}
}

func splitKey(k string) (string, int) {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '@' {
			var h int
			fmt.Sscan(k[i+1:], &h)
			return k[:i], h
		}
	}
	return k, 0
}

func (c *client) leave(room string) error {
	d, err := c.request("leave", room)
	if err != nil {
		return err
	}
	var l uint64
	if err := json.Unmarshal(d, &l); err != nil {
		return fmt.Errorf("leave reply %q", d)
	}
	c.check(room, l)
	return nil
}

// bye asks the server for its final counts, checks everything and closes
// normally.
func (c *client) bye() error {
	d, err := c.request("bye", nil)
	if err != nil {
		return err
	}
	var rep byeReply
	if err := json.Unmarshal(d, &rep); err != nil {
		return fmt.Errorf("bye reply %q", d)
	}
	for room, l := range rep.Rooms {
		c.check(room, l)
	}
	c.mu.Lock()
	if c.direct.count != rep.Direct || (rep.Direct > 0 && (c.direct.first != 1 || !c.direct.ordered || c.direct.gaps > 0)) {
		c.errs = append(c.errs, fmt.Sprintf("direct: got %d (%d..%d, ordered %v), server sent %d",
			c.direct.count, c.direct.first, c.direct.last, c.direct.ordered, rep.Direct))
	}
	c.mu.Unlock()
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(5*time.Second))
	c.wmu.Unlock()
	select {
	case <-c.readDone:
	case <-time.After(10 * time.Second):
		return errors.New("no close reply within 10s")
	}
	if !websocket.IsCloseError(c.readErr, websocket.CloseNormalClosure) {
		return fmt.Errorf("closed with %v, want the echo of 1000", c.readErr)
	}
	return nil
}

// live runs one client's life: connect, join and leave rooms, and leave
// by its kind's way at the end.
func (c *client) live(ctx context.Context, lifetime time.Duration, rng *rand.Rand) {
	r := c.run
	rcvbuf := 0
	if c.kind == slow {
		rcvbuf = 4096
	}
	srv := r.servers[c.hub]
	ws, err := r.dialer.dial(ctx, srv.addr, rcvbuf)
	for try := 1; err != nil && try < 3 && ctx.Err() == nil; try++ {
		r.count(&r.dialRetries)
		r.note("dial (try %d): %v", try, err)
		sleep(ctx, 100*time.Millisecond)
		ws, err = r.dialer.dial(ctx, srv.addr, rcvbuf)
	}
	if err != nil {
		if ctx.Err() == nil {
			r.count(&r.dialErrors)
			r.note("dial: %v", err)
			sleep(ctx, 100*time.Millisecond)
		}
		return
	}
	r.count(&r.connected)
	c.ws = ws
	c.ackCh = make(chan json.RawMessage, 1)
	c.readDone = make(chan struct{})
	c.tracks = make(map[string]*track)
	c.joined = make(map[string]bool)
	defer ws.Close()
	defer func() {
		r.sent.Add(c.sent)
		c.mu.Lock()
		r.received.Add(c.received)
		c.mu.Unlock()
	}()

	if c.kind == slow {
		go c.readLoop(true)
		if err := c.join(firehose); err != nil {
			c.fail("join: %v", err)
			r.finish(c)
			return
		}
		<-c.readDone // the reader stopped after the join reply: nothing is read from now on
		timer := time.NewTimer(lifetime)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		// Read again to learn whether the server closed it, and how.
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var rerr error
		for rerr == nil {
			_, _, rerr = ws.ReadMessage()
		}
		var ce *websocket.CloseError
		switch {
		case errors.As(rerr, &ce) && ce.Code == 1008:
			r.count(&r.slowClosed)
		case isTimeout(rerr):
			r.count(&r.slowNotClosed) // not enough traffic reached it yet
		default:
			r.count(&r.slowDropped) // dropped without a close frame (write timeout)
		}
		return
	}

	go c.readLoop(false)
	rooms := []string{}
	if c.kind == healthy && rng.IntN(100) < 2 {
		rooms = append(rooms, firehose) // a few healthy readers share the firehose with the slow ones
	}
	rooms = append(rooms, r.randomRoom(rng))
	for _, room := range rooms {
		if err := c.join(room); err != nil {
			c.fail("join %s: %v", room, err)
			r.finish(c)
			return
		}
	}
	var floodDone chan struct{}
	floodStop := make(chan struct{})
	if c.kind == flooder {
		floodDone = make(chan struct{})
		go c.flood(ctx, floodStop, floodDone)
	}
	deadline := time.Now().Add(lifetime)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, time.Duration(200+rng.IntN(1800))*time.Millisecond)
		if ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		c.mu.Lock()
		n := len(c.joined)
		var some string
		for room := range c.joined {
			if room != firehose {
				some = room
				break
			}
		}
		c.mu.Unlock()
		var err error
		if n < 4 && (some == "" || rng.IntN(2) == 0) {
			err = c.join(r.randomRoom(rng))
		} else if some != "" {
			err = c.leave(some)
		}
		if err != nil {
			c.fail("%v", err)
			break
		}
	}
	close(floodStop)
	if floodDone != nil {
		<-floodDone
	}
	if c.kind == resetter {
		if tc, ok := ws.UnderlyingConn().(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = ws.UnderlyingConn().Close()
		<-c.readDone
		r.count(&r.resets)
		return
	}
	if err := c.bye(); err != nil {
		c.fail("bye: %v", err)
	}
	r.finish(c)
}

// flood publishes to the firehose at the configured rate until ctx ends or
// the client's life does.
func (c *client) flood(ctx context.Context, stop, done chan struct{}) {
	defer close(done)
	r := c.run
	tick := time.NewTicker(time.Second / time.Duration(max(1, r.cfg.floodRate)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-c.readDone:
			return
		case <-tick.C:
			if err := c.write(map[string]any{"event": "pub", "data": map[string]string{"room": firehose, "pad": r.pad}}); err != nil {
				return
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
