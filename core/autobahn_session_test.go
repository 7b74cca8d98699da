package core_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushws/rushws/internal/rawws"
)

// The machinery the Autobahn-numbered table (autobahn_test.go) and the
// cases beyond it (protocol_extra_test.go) run on: a case is a list of
// parts the client writes, with Autobahn's pauses between them, and the
// outcomes Autobahn accepts, rated as Autobahn rates them. A session reads
// what the server sends on its own goroutine and records it as an ordered
// list of events, so a case can tell that a pong came before an echo, or
// that the server failed the connection during a pause.

// Ratings, as Autobahn|Testsuite names them.
const (
	ratingOK            = "OK"
	ratingNonStrict     = "NON-STRICT"
	ratingInformational = "INFORMATIONAL"
	ratingFailed        = "FAILED"
)

// abEvent is one thing the client saw, in the order it saw it.
type abEvent struct {
	kind string // "message", "pong" or "timeout"
	op   byte   // the opcode of a message
	data []byte // a message's or a pong's payload, a timeout's label
}

func evMessage(op byte, b []byte) abEvent { return abEvent{kind: "message", op: op, data: b} }
func evText(s string) abEvent             { return evMessage(rawws.OpText, []byte(s)) }
func evBinary(b []byte) abEvent           { return evMessage(rawws.OpBinary, b) }
func evPong(b []byte) abEvent             { return abEvent{kind: "pong", data: b} }
func evTimeout(label string) abEvent      { return abEvent{kind: "timeout", data: []byte(label)} }

func (e abEvent) String() string {
	switch e.kind {
	case "message":
		return fmt.Sprintf("message(op %d, %d bytes %.40q)", e.op, len(e.data), e.data)
	case "timeout":
		return fmt.Sprintf("timeout %s", e.data)
	}
	return fmt.Sprintf("%s(%.40q)", e.kind, e.data)
}

func sameEvents(a, b []abEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].kind != b[i].kind || a[i].op != b[i].op || !bytes.Equal(a[i].data, b[i].data) {
			return false
		}
	}
	return true
}

func eventsString(evs []abEvent) string {
	if len(evs) > 6 {
		return fmt.Sprintf("%v ... %d events in all ... %v", evs[:3], len(evs), evs[len(evs)-2:])
	}
	return fmt.Sprint(evs)
}

// abPart is one write of a case.
type abPart struct {
	// wait is a pause before the part (Autobahn's continueLater). The part
	// is written only if the server has not closed by then; label, when
	// set, is then recorded as a timeout event, as Autobahn records that
	// its timer fired with the connection still open.
	wait  time.Duration
	label string
	// data is written in one write, or in pieces of chop bytes.
	data []byte
	chop int
	// closes marks a part that carries the client's close frame.
	closes bool
}

// abCase is one row of a protocol table.
type abCase struct {
	id string
	// parts are written in order after the handshake.
	parts []abPart
	// drive, when set, runs after the parts: a case that sends one message
	// at a time and waits for each echo. It returns what went wrong.
	drive func(s *abSession) error
	// expect lists the event sequences accepted, by rating.
	expect map[string][]abEvent
	// byClient is Autobahn's closedByMe: the client starts the closing
	// handshake once the expected events are in (or its patience runs
	// out); otherwise the server must fail the connection.
	byClient bool
	// codes are the close codes accepted in the server's close frame.
	codes []int
	// clean is Autobahn's requireClean: the closing handshake completes
	// and the server closes the TCP connection.
	clean bool
	// informational rows pass whatever the events (Autobahn reports them
	// without rating); codes still apply when set.
	informational bool
	// patience is how long the client waits for the expected events before
	// it closes, and for the server to close before it drops the
	// connection itself (Autobahn's closeAfter and killAfter, with a floor
	// so a loaded machine under -race does not fail a correct server).
	patience time.Duration
	// offer is a Sec-WebSocket-Extensions offer made in the handshake.
	offer string
	// sequential rows (the large messages) do not run beside others.
	sequential bool
	// build, when set, fills the case in when it runs (large payloads).
	build func(c *abCase)
	// custom, when set, plays the case instead of the raw client (a
	// library client) and returns its rating.
	custom func(t *testing.T, srv *abuseServer) string
}

// ok returns expect with one accepted outcome, rated OK.
func ok(evs ...abEvent) map[string][]abEvent {
	if evs == nil {
		evs = []abEvent{}
	}
	return map[string][]abEvent{ratingOK: evs}
}

// okOrNonStrict returns expect with an OK outcome and a NON-STRICT one.
func okOrNonStrict(okEvs, nonStrict []abEvent) map[string][]abEvent {
	if okEvs == nil {
		okEvs = []abEvent{}
	}
	if nonStrict == nil {
		nonStrict = []abEvent{}
	}
	return map[string][]abEvent{ratingOK: okEvs, ratingNonStrict: nonStrict}
}

// echoCase is the common shape: the client sends data and expects evs back,
// then closes normally.
func echoCase(id string, parts []abPart, evs ...abEvent) abCase {
	return abCase{id: id, parts: parts, expect: ok(evs...), byClient: true, codes: []int{1000}, clean: true}
}

// failCase is the other common shape: the server must fail the connection
// with one of codes, after sending evs.
func failCase(id string, parts []abPart, codes []int, evs ...abEvent) abCase {
	return abCase{id: id, parts: parts, expect: ok(evs...), codes: codes}
}

// once is a single write of frames.
func once(fs ...rawws.Frame) []abPart { return []abPart{{data: rawws.Join(fs...)}} }

// chopped writes frames in pieces of n bytes.
func chopped(n int, fs ...rawws.Frame) []abPart { return []abPart{{data: rawws.Join(fs...), chop: n}} }

// frameWise writes each frame in a write of its own (Autobahn's sync=True).
func frameWise(fs ...rawws.Frame) []abPart {
	var out []abPart
	for _, f := range fs {
		out = append(out, abPart{data: f.Bytes()})
	}
	return out
}

// abSession is one client connection playing a case.
type abSession struct {
	c   *rawws.Conn
	inf *inflater // set when permessage-deflate was negotiated
	def *deflater

	wmu sync.Mutex // serializes writes

	mu sync.Mutex // guards the fields below
	// events is what the client saw; changed is signalled on every change.
	events  []abEvent
	changed chan struct{}
	// clientClosed and serverClosed record who sent a close frame, and
	// byClient who sent the first.
	clientClosed, serverClosed, byClient bool
	code                                 int
	reason                               string
	// protoErr is the first thing the server sent that it must not.
	protoErr error
	// endErr is how the connection ended (io.EOF when the server closed
	// it).
	endErr error
	// compressedIn counts the server's messages that came compressed.
	compressedIn int
	done         chan struct{}
}

func newSession(c *rawws.Conn, p deflateParams) *abSession {
	s := &abSession{c: c, changed: make(chan struct{}, 1), done: make(chan struct{}), code: rawws.CloseAbnormal}
	if p.on {
		s.inf = newInflater(!p.serverNoContext)
		s.def = newDeflater(!p.clientNoContext, p.clientBits)
	}
	go s.read()
	return s
}

func (s *abSession) poke() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *abSession) fail(err error) {
	s.mu.Lock()
	if s.protoErr == nil {
		s.protoErr = err
	}
	s.mu.Unlock()
}

func (s *abSession) record(e abEvent) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	s.poke()
}

// write writes b, in pieces of chop bytes when chop > 0.
func (s *abSession) write(b []byte, chop int) error {
	if chop <= 0 {
		chop = len(b)
	}
	for len(b) > 0 {
		n := min(chop, len(b))
		s.wmu.Lock()
		_ = s.c.NetConn().SetWriteDeadline(time.Now().Add(30 * time.Second))
		err := s.c.Write(b[:n])
		s.wmu.Unlock()
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// sendClose records that the client closes, then writes its close frame.
func (s *abSession) sendClose(payload []byte) {
	s.markClientClose()
	_ = s.write(rawws.Close(payload).Bytes(), 0)
}

func (s *abSession) markClientClose() {
	s.mu.Lock()
	if !s.clientClosed && !s.serverClosed {
		s.byClient = true
	}
	s.clientClosed = true
	s.mu.Unlock()
}

// read records what the server sends until the connection ends, answering
// pings and the server's close frame as a client does.
func (s *abSession) read() {
	defer close(s.done)
	defer s.poke()
	var msg *abEvent
	var compressed bool
	for {
		f, err := s.c.ReadFrame()
		if err != nil {
			s.mu.Lock()
			s.endErr = err
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		afterClose := s.serverClosed
		s.mu.Unlock()
		if afterClose {
			s.fail(fmt.Errorf("server sent opcode %d after its close frame", f.Op))
		}
		if f.Masked {
			s.fail(errors.New("server sent a masked frame"))
		}
		dataStart := f.Op == rawws.OpText || f.Op == rawws.OpBinary
		if f.Rsv != 0 && !(s.inf != nil && f.Rsv == 4 && dataStart) {
			s.fail(fmt.Errorf("server sent reserved bits %d on opcode %d", f.Rsv, f.Op))
		}
		switch f.Op {
		case rawws.OpClose:
			code, reason, valid := rawws.ParseClose(f.Payload)
			if !valid {
				s.fail(fmt.Errorf("server sent a malformed close payload %q", f.Payload))
			}
			s.mu.Lock()
			first := !s.clientClosed
			s.serverClosed = true
			if first {
				s.byClient = false
			}
			s.code, s.reason = code, reason
			s.mu.Unlock()
			s.poke()
			if first {
				var echo []byte
				if code != rawws.CloseNoStatus && valid {
					echo = rawws.ClosePayload(uint16(code), "")
				}
				s.markClientClose()
				_ = s.write(rawws.Close(echo).Bytes(), 0)
			}
		case rawws.OpPing:
			_ = s.write(rawws.Pong(f.Payload).Bytes(), 0)
		case rawws.OpPong:
			s.record(evPong(f.Payload))
		case rawws.OpText, rawws.OpBinary:
			if msg != nil {
				s.fail(errors.New("server started a message inside another"))
			}
			msg = &abEvent{kind: "message", op: f.Op, data: f.Payload}
			compressed = f.Rsv&4 != 0
		case rawws.OpContinuation:
			if msg == nil {
				s.fail(errors.New("server sent a continuation outside a message"))
				continue
			}
			msg.data = append(msg.data, f.Payload...)
		default:
			s.fail(fmt.Errorf("server sent opcode %d", f.Op))
		}
		if msg != nil && f.Fin && (dataStart || f.Op == rawws.OpContinuation) {
			if compressed {
				out, err := s.inf.inflate(msg.data)
				if err != nil {
					s.fail(fmt.Errorf("server's compressed message: %v", err))
				}
				msg.data = out
				s.mu.Lock()
				s.compressedIn++
				s.mu.Unlock()
			}
			s.record(*msg)
			msg = nil
		}
	}
}

// closedByServer reports whether the server has sent its close frame or
// ended the connection.
func (s *abSession) closedByServer() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serverClosed {
		return true
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitUntil waits until cond holds (checked after every change) or d
// passes, and reports whether it holds.
func (s *abSession) waitUntil(d time.Duration, cond func() bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-s.changed:
		case <-s.done:
			return cond()
		case <-timer.C:
			return cond()
		}
	}
}

// snapshot returns the events so far.
func (s *abSession) snapshot() []abEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]abEvent(nil), s.events...)
}

// nextMessage waits for the n-th message event (counting from 0).
func (s *abSession) nextMessage(n int, d time.Duration) (abEvent, bool) {
	var got abEvent
	found := s.waitUntil(d, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		k := 0
		for _, e := range s.events {
			if e.kind == "message" {
				if k == n {
					got = e
					return true
				}
				k++
			}
		}
		return false
	})
	return got, found
}

// play runs tc on a fresh connection to s and checks the outcome as
// Autobahn would, then that the bystander is served and the connection is
// gone. It returns the rating.
func (tc abCase) play(t *testing.T, srv *abuseServer) string {
	t.Helper()
	patience := max(tc.patience, 5*time.Second)
	c, params := srv.dialOffer(t, tc.offer)
	if tc.offer != "" {
		t.Logf("offered %q, the server answered %q", tc.offer, params.answer)
	}
	s := newSession(c, params)
	defer func() {
		_ = c.Close()
		<-s.done
	}()
	for i, p := range tc.parts {
		if p.wait > 0 {
			// Autobahn's pause between the parts is the case itself:
			// the server must behave the same whenever the rest comes.
			time.Sleep(p.wait)
			if s.closedByServer() {
				break
			}
			if p.label != "" {
				s.record(evTimeout(p.label))
			}
		}
		if p.closes {
			s.markClientClose()
		}
		if err := s.write(p.data, p.chop); err != nil {
			t.Logf("write of part %d: %v (the server may close before reading everything)", i+1, err)
			break
		}
	}
	var driveErr error
	if tc.drive != nil && !s.closedByServer() {
		driveErr = tc.drive(s)
	}
	if tc.byClient {
		s.waitUntil(patience, func() bool { return s.closedByServer() || tc.matches(s.snapshot()) != "" })
		s.mu.Lock()
		closing := s.clientClosed || s.serverClosed
		s.mu.Unlock()
		if !closing {
			s.sendClose(rawws.ClosePayload(1000, ""))
		}
	}
	// The server must end the connection: after its close frame, or after
	// answering the client's. Past patience the client drops it, as
	// Autobahn's killAfter does.
	ended := s.waitUntil(patience, func() bool {
		select {
		case <-s.done:
			return true
		default:
			return false
		}
	})
	if !ended {
		_ = c.Close()
	}
	<-s.done
	if params.on {
		t.Logf("%d of the server's %d messages came compressed", s.compressedIn, len(s.events))
	}
	return tc.judge(t, s, ended, driveErr)
}

// matches returns the rating of the first accepted outcome evs equals, or
// "".
func (tc abCase) matches(evs []abEvent) string {
	for _, r := range []string{ratingOK, ratingNonStrict} {
		if want, found := tc.expect[r]; found && sameEvents(evs, want) {
			return r
		}
	}
	return ""
}

// judge rates the session's outcome and reports what differs from what
// the case accepts.
func (tc abCase) judge(t *testing.T, s *abSession, ended bool, driveErr error) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rating := tc.matches(s.events)
	if driveErr != nil {
		t.Errorf("%s", driveErr)
		rating = ratingFailed
	}
	if tc.informational {
		rating = ratingInformational
		t.Logf("informational: events %s", eventsString(s.events))
	} else if rating == "" {
		rating = ratingFailed
		var wants []string
		for _, r := range []string{ratingOK, ratingNonStrict} {
			if want, found := tc.expect[r]; found {
				wants = append(wants, fmt.Sprintf("%s %s", r, eventsString(want)))
			}
		}
		t.Errorf("events = %s; want %s", eventsString(s.events), strings.Join(wants, " or "))
	}
	if s.protoErr != nil {
		t.Errorf("server protocol error: %v", s.protoErr)
		rating = ratingFailed
	}
	switch {
	case !s.serverClosed:
		t.Errorf("no close frame from the server (connection ended: %v; the client dropped it: %v); want close code %v",
			s.endErr, !ended, tc.codes)
		rating = ratingFailed
	case s.byClient != tc.byClient:
		who := map[bool]string{true: "client", false: "server"}
		t.Errorf("the %s started the closing handshake (server code %d %q); want the %s to, with code %v",
			who[s.byClient], s.code, s.reason, who[tc.byClient], tc.codes)
		rating = ratingFailed
	case len(tc.codes) > 0 && !containsInt(tc.codes, s.code):
		t.Errorf("server close code = %d %q; want %v", s.code, s.reason, tc.codes)
		rating = ratingFailed
	case tc.clean && (!ended || !errors.Is(s.endErr, io.EOF)):
		t.Errorf("closing handshake not clean: the server did not close TCP after it (%v)", s.endErr)
		rating = ratingFailed
	}
	return rating
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// tally counts a table's ratings and logs them, with the rows not rated
// OK, once every row of the table has run.
type tally struct {
	mu     sync.Mutex
	counts map[string]int
	rows   map[string][]string
}

// newTally returns a tally that t logs under title when its subtests are
// done.
func newTally(t *testing.T, title string) *tally {
	tl := &tally{counts: map[string]int{}, rows: map[string][]string{}}
	t.Cleanup(func() {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		n := 0
		for _, c := range tl.counts {
			n += c
		}
		t.Logf("%d %s: %d OK, %d NON-STRICT, %d INFORMATIONAL, %d FAILED", n, title,
			tl.counts[ratingOK], tl.counts[ratingNonStrict], tl.counts[ratingInformational], tl.counts[ratingFailed])
		for _, r := range []string{ratingNonStrict, ratingFailed} {
			if len(tl.rows[r]) > 0 {
				t.Logf("%s: %s", r, strings.Join(tl.rows[r], ", "))
			}
		}
	})
	return tl
}

// add counts the rating of row id; a row whose test failed is FAILED
// whatever it returned.
func (tl *tally) add(t *testing.T, id, rating string) {
	if t.Failed() {
		rating = ratingFailed
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.counts[rating]++
	if rating == ratingNonStrict || rating == ratingFailed {
		tl.rows[rating] = append(tl.rows[rating], id)
	}
}
