package core_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/rawws"
	"go.uber.org/goleak"
)

// TestAutobahn is the case list of Autobahn|Testsuite's fuzzing client
// (sections 1 to 7, 9, 12 and 13), case by case and under Autobahn's
// numbers, against a hub that echoes every message: the bytes each case
// sends, how it chops them and pauses between them, and the outcomes it
// accepts, rated OK, NON-STRICT or INFORMATIONAL as Autobahn rates them.
//
// On one point every row is stricter than Autobahn: where Autobahn also
// takes a close frame without a code, or a TCP connection dropped without
// a close frame, as a failed connection, a row wants the server's close
// frame and one of the codes Autobahn lists.
//
// Each row also checks what a user of the hub would see: a bystander in the
// same room still gets a broadcast, and the connection has left its rooms
// and Stats. Rows run in parallel, except the large messages of section 9,
// which run one after the other before the others start; goroutines are
// checked once the whole table is done, and again by TestMain.
//
// The whole table runs once per read mode: "auto/6.4.2",
// "goroutine/6.4.2".
//
// Not parallel with other tests: it checks goroutines against its start.
func TestAutobahn(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			tally := newTally(t, "Autobahn cases in read mode "+m.name)
			for _, tc := range autobahnCases() {
				t.Run(tc.id, func(t *testing.T) {
					if !tc.sequential {
						t.Parallel()
					}
					rating := ratingFailed
					defer func() { tally.add(t, tc.id, rating) }()
					rating = runCase(t, autobahnConfig(m.mode, tc), tc)
				})
			}
		})
	}
	goleak.VerifyNone(t, ignore)
}

// readModes are the read modes every protocol table runs in.
var readModes = []struct {
	name string
	mode core.ReadMode
}{
	{"auto", core.ReadAuto},
	{"goroutine", core.ReadGoroutine},
}

// autobahnReadLimit lets through the largest message of section 9 (16
// MiB), with room to spare.
const autobahnReadLimit = 16<<20 + 64<<10

// autobahnConfig is the hub a row runs against: Autobahn's testee is an
// echo server that takes its largest messages, so the read limit and the
// send queue are raised for them; compression is on for sections 12 and 13
// and for rows that offer it.
func autobahnConfig(mode core.ReadMode, tc abCase) core.Config {
	return core.Config{
		PingInterval:      -1,
		ReadMode:          mode,
		ReadLimit:         autobahnReadLimit,
		SendQueueBytes:    64 << 20,
		EnableCompression: tc.offer != "" || strings.HasPrefix(tc.id, "12.") || strings.HasPrefix(tc.id, "13."),
	}
}

// runCase plays tc on a hub of its own, with a bystander in the room, and
// checks the bystander is served and the connection gone afterwards.
func runCase(t *testing.T, cfg core.Config, tc abCase) string {
	t.Helper()
	if tc.build != nil {
		tc.build(&tc)
	}
	s := newAbuseServer(t, cfg)
	var rating string
	if tc.custom != nil {
		rating = tc.custom(t, s)
	} else {
		rating = tc.play(t, s)
	}
	s.checkGone(t)
	s.checkBystander(t)
	return rating
}

// autobahnCases lists the table in Autobahn's order.
func autobahnCases() []abCase {
	var out []abCase
	for _, sec := range []func() []abCase{
		autobahnFraming, autobahnPings, autobahnReservedBits, autobahnOpcodes,
		autobahnFragmentation, autobahnUTF8, autobahnClose, autobahnLimits,
		autobahnCompression, autobahnCompressionParams,
	} {
		out = append(out, sec()...)
	}
	return out
}

// repeatTo returns pattern repeated to n bytes, as Autobahn's payload_len
// does.
func repeatTo(pattern string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = pattern[i%len(pattern)]
	}
	return b
}

// Section 1: text and binary messages of the lengths where the length
// encoding changes, in one write and in writes of 997 bytes.
func autobahnFraming() []abCase {
	var out []abCase
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536}
	for i, n := range sizes {
		out = append(out, echoCase(fmt.Sprintf("1.1.%d", i+1), once(rawws.Text(strings.Repeat("*", n))), evText(strings.Repeat("*", n))))
	}
	out = append(out, echoCase("1.1.8", chopped(997, rawws.Text(strings.Repeat("*", 65536))), evText(strings.Repeat("*", 65536))))
	for i, n := range sizes {
		b := repeatTo("\xfe", n)
		out = append(out, echoCase(fmt.Sprintf("1.2.%d", i+1), once(rawws.Binary(b)), evBinary(b)))
	}
	b := repeatTo("\xfe", 65536)
	out = append(out, echoCase("1.2.8", chopped(997, rawws.Binary(b)), evBinary(b)))
	return out
}

// Section 2: pings and pongs.
func autobahnPings() []abCase {
	bin := []byte("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")
	p125 := repeatTo("\xfe", 125)
	var ten []rawws.Frame
	var tenPongs []abEvent
	for i := range 10 {
		p := []byte(fmt.Sprintf("payload-%d", i))
		ten = append(ten, rawws.Ping(p))
		tenPongs = append(tenPongs, evPong(p))
	}
	unsolicited := []byte("unsolicited pong payload")
	return []abCase{
		echoCase("2.1", once(rawws.Ping(nil)), evPong([]byte{})),
		echoCase("2.2", once(rawws.Ping([]byte("Hello, world!"))), evPong([]byte("Hello, world!"))),
		echoCase("2.3", once(rawws.Ping(bin)), evPong(bin)),
		echoCase("2.4", once(rawws.Ping(p125)), evPong(p125)),
		failCase("2.5", once(rawws.Ping(repeatTo("\xfe", 126))), []int{1002}),
		echoCase("2.6", chopped(1, rawws.Ping(p125)), evPong(p125)),
		echoCase("2.7", once(rawws.Pong(nil))),
		echoCase("2.8", once(rawws.Pong(unsolicited))),
		echoCase("2.9", once(rawws.Pong(unsolicited), rawws.Ping([]byte("ping payload"))), evPong([]byte("ping payload"))),
		echoCase("2.10", once(ten...), tenPongs...),
		echoCase("2.11", chopped(1, ten...), tenPongs...),
	}
}

// fr builds a frame: fin, rsv, opcode, payload.
func fr(fin bool, rsv, op byte, payload string) rawws.Frame {
	return rawws.Frame{Fin: fin, Rsv: rsv, Op: op, Payload: []byte(payload)}
}

// Section 3: reserved bits without an extension that defines them. After a
// valid message, its echo is OK and no echo is NON-STRICT; the ping after
// the bad frame must never be answered.
func autobahnReservedBits() []abCase {
	const hello = "Hello, world!"
	withEcho := func(id string, parts []abPart) abCase {
		return abCase{id: id, parts: parts, expect: okOrNonStrict([]abEvent{evText(hello)}, nil), codes: []int{1002}}
	}
	return []abCase{
		failCase("3.1", once(fr(true, 1, rawws.OpText, hello)), []int{1002}),
		withEcho("3.2", once(rawws.Text(hello), fr(true, 2, rawws.OpText, hello), rawws.Ping(nil))),
		withEcho("3.3", frameWise(rawws.Text(hello), fr(true, 3, rawws.OpText, hello), rawws.Ping(nil))),
		withEcho("3.4", append(append(chopped(1, rawws.Text(hello)), chopped(1, fr(true, 4, rawws.OpText, hello))...), chopped(1, rawws.Ping(nil))...)),
		failCase("3.5", once(rawws.Frame{Fin: true, Rsv: 5, Op: rawws.OpBinary, Payload: []byte("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")}), []int{1002}),
		// Autobahn describes 3.6 as a ping, but sends a binary frame.
		failCase("3.6", once(fr(true, 6, rawws.OpBinary, hello)), []int{1002}),
		failCase("3.7", once(fr(true, 7, rawws.OpClose, "")), []int{1002}),
	}
}

// Section 4: reserved opcodes, alone or after a valid message.
func autobahnOpcodes() []abCase {
	const hello = "Hello, world!"
	var out []abCase
	for i, base := range []byte{3, 11} {
		sec := fmt.Sprintf("4.%d", i+1)
		withEcho := func(n int, parts []abPart) abCase {
			return abCase{id: fmt.Sprintf("%s.%d", sec, n), parts: parts, expect: okOrNonStrict([]abEvent{evText(hello)}, nil), codes: []int{1002}}
		}
		out = append(out,
			failCase(sec+".1", once(fr(true, 0, base, "")), []int{1002}),
			failCase(sec+".2", once(fr(true, 0, base+1, "reserved opcode payload")), []int{1002}),
			withEcho(3, once(rawws.Text(hello), fr(true, 0, base+2, ""), rawws.Ping(nil))),
			withEcho(4, once(rawws.Text(hello), fr(true, 0, base+3, hello), rawws.Ping(nil))),
			withEcho(5, append(append(chopped(1, rawws.Text(hello)), chopped(1, fr(true, 0, base+4, hello))...), chopped(1, rawws.Ping(nil))...)),
		)
	}
	return out
}

// Section 5: fragmentation.
func autobahnFragmentation() []abCase {
	const cont = rawws.OpContinuation
	f1 := fr(false, 0, rawws.OpText, "fragment1")
	f2 := fr(true, 0, cont, "fragment2")
	both := evText("fragment1fragment2")
	ping := rawws.Ping([]byte("ping payload"))
	pong := evPong([]byte("ping payload"))
	contFin := []rawws.Frame{fr(true, 0, cont, "non-continuation payload"), rawws.Text("Hello, world!")}
	contOpen := []rawws.Frame{fr(false, 0, cont, "non-continuation payload"), rawws.Text("Hello, world!")}
	eachChopped := func(fs ...rawws.Frame) []abPart {
		var out []abPart
		for _, f := range fs {
			out = append(out, chopped(1, f)...)
		}
		return out
	}
	twice := func(first rawws.Frame) []abPart {
		var fs []rawws.Frame
		for range 2 {
			fs = append(fs, first, fr(false, 0, rawws.OpText, "fragment2"), fr(true, 0, cont, "fragment3"))
		}
		return once(fs...)
	}
	return []abCase{
		failCase("5.1", once(fr(false, 0, rawws.OpPing, "fragment1"), f2), []int{1002}),
		failCase("5.2", once(fr(false, 0, rawws.OpPong, "fragment1"), f2), []int{1002}),
		echoCase("5.3", once(f1, f2), both),
		echoCase("5.4", frameWise(f1, f2), both),
		echoCase("5.5", eachChopped(f1, f2), both),
		echoCase("5.6", once(f1, ping, f2), pong, both),
		echoCase("5.7", frameWise(f1, ping, f2), pong, both),
		echoCase("5.8", eachChopped(f1, ping, f2), pong, both),
		failCase("5.9", once(contFin...), []int{1002}),
		failCase("5.10", frameWise(contFin...), []int{1002}),
		failCase("5.11", eachChopped(contFin...), []int{1002}),
		failCase("5.12", once(contOpen...), []int{1002}),
		failCase("5.13", frameWise(contOpen...), []int{1002}),
		failCase("5.14", eachChopped(contOpen...), []int{1002}),
		{id: "5.15", parts: once(f1, f2, fr(false, 0, cont, "fragment3"), fr(true, 0, rawws.OpText, "fragment4")),
			expect: okOrNonStrict([]abEvent{both}, nil), codes: []int{1002}},
		failCase("5.16", twice(fr(false, 0, cont, "fragment1")), []int{1002}),
		failCase("5.17", twice(fr(true, 0, cont, "fragment1")), []int{1002}),
		failCase("5.18", once(f1, fr(true, 0, rawws.OpText, "fragment2")), []int{1002}),
		pingsMidMessage("5.19", false),
		pingsMidMessage("5.20", true),
	}
}

// pingsMidMessage is 5.19 and 5.20: a text message in five fragments, with
// a ping after the second and another after the fourth, and a pause of one
// second after the first ping. Both pongs must come before the echo of the
// message; 5.20 writes each frame on its own.
func pingsMidMessage(id string, frameByFrame bool) abCase {
	const cont = rawws.OpContinuation
	first := []rawws.Frame{fr(false, 0, rawws.OpText, "fragment1"), fr(false, 0, cont, "fragment2"), rawws.Ping([]byte("pongme 1!"))}
	second := []rawws.Frame{fr(false, 0, cont, "fragment3"), fr(false, 0, cont, "fragment4"), rawws.Ping([]byte("pongme 2!")), fr(true, 0, cont, "fragment5")}
	var parts []abPart
	if frameByFrame {
		parts = frameWise(first...)
		rest := frameWise(second...)
		rest[0].wait = time.Second
		parts = append(parts, rest...)
	} else {
		parts = []abPart{{data: rawws.Join(first...)}, {data: rawws.Join(second...), wait: time.Second}}
	}
	return echoCase(id, parts, evPong([]byte("pongme 1!")), evPong([]byte("pongme 2!")), evText("fragment1fragment2fragment3fragment4fragment5"))
}

// kosme is the Greek word "κόσμε", Autobahn's favourite valid UTF-8.
const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

// utf8Case is a text message of payload sent as one frame (or in
// fragments of frag bytes): echoed when valid, 1007 when not.
func utf8Case(id, payload string, frag int) abCase {
	parts := once(rawws.Text(payload))
	if frag > 0 {
		parts = once(rawws.Fragments(rawws.OpText, []byte(payload), frag)...)
	}
	if utf8.ValidString(payload) {
		return echoCase(id, parts, evText(payload))
	}
	return failCase(id, parts, []int{core.CloseInvalidPayload})
}

// utf8Sequences are Autobahn's groups 6.5 to 6.23, from Markus Kuhn's UTF-8
// decoder stress test, each sequence one case. Which ones are valid is
// decided by Go's own validator, which agrees with Autobahn's on every one.
func utf8Sequences() [][]string {
	var prefixes []string
	for n := 1; n <= len(kosme); n++ {
		prefixes = append(prefixes, kosme[:n])
	}
	byteRange := func(lo, hi int, sep string) string { // lo to hi-1, as Python's xrange
		var b strings.Builder
		for c := lo; c < hi; c++ {
			b.WriteByte(byte(c))
			b.WriteString(sep)
		}
		return b.String()
	}
	missingLast := []string{"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"}
	nonchars := []string{"\xef\xbf\xbe", "\xef\xbf\xbf"}
	for _, b1 := range []string{"\xf0", "\xf1", "\xf2", "\xf3", "\xf4"} {
		for _, b2 := range []string{"\x8f", "\x9f", "\xaf", "\xbf"} {
			if b1 == "\xf4" && b2 != "\x8f" {
				continue // past U+10FFFF
			}
			for _, b4 := range []string{"\xbe", "\xbf"} {
				s := b1 + b2 + "\xbf" + b4
				if b1 == "\xf0" && b2 == "\x8f" {
					continue // overlong
				}
				nonchars = append(nonchars, s)
			}
		}
	}
	return [][]string{
		// 6.5 valid sequences
		{"hello\x24world", "hello\xc2\xa2world", "hello\xe2\x82\xacworld", "hello\xf0\xa4\xad\xa2world", kosme},
		// 6.6 every prefix of kosme
		prefixes,
		// 6.7 first sequence of each length
		{"\x00", "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80"},
		// 6.8 first sequence of 5 and 6 bytes
		{"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80"},
		// 6.9 last sequence of each length
		{"\x7f", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"},
		// 6.10 last sequence of 4, 5 and 6 bytes in the old scheme
		{"\xf7\xbf\xbf\xbf", "\xfb\xbf\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf"},
		// 6.11 other boundaries
		{"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80"},
		// 6.12 unexpected continuation bytes
		{"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\x80\xbf\x80\xbf", "\x80\xbf\x80\xbf\x80", "\x80\xbf\x80\xbf\x80\xbf", byteRange(0x80, 0xbf, "")},
		// 6.13 lonely start bytes, each followed by a space
		{byteRange(0xc0, 0xdf, " "), byteRange(0xe0, 0xef, " "), byteRange(0xf0, 0xf7, " "), byteRange(0xf8, 0xfb, " "), byteRange(0xfc, 0xfd, " ")},
		// 6.14 last continuation byte missing
		missingLast,
		// 6.15 those concatenated
		{strings.Join(missingLast, "")},
		// 6.16 impossible bytes
		{"\xfe", "\xff", "\xfe\xfe\xff\xff"},
		// 6.17 overlong "/"
		{"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf8\x80\x80\x80\xaf", "\xfc\x80\x80\x80\x80\xaf"},
		// 6.18 largest overlong forms
		{"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xf8\x87\xbf\xbf\xbf", "\xfc\x83\xbf\xbf\xbf\xbf"},
		// 6.19 overlong NUL
		{"\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80", "\xf8\x80\x80\x80\x80", "\xfc\x80\x80\x80\x80\x80"},
		// 6.20 single UTF-16 surrogates
		{"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf"},
		// 6.21 paired UTF-16 surrogates
		{"\xed\xa0\x80\xed\xb0\x80", "\xed\xa0\x80\xed\xbf\xbf", "\xed\xad\xbf\xed\xb0\x80", "\xed\xad\xbf\xed\xbf\xbf",
			"\xed\xae\x80\xed\xb0\x80", "\xed\xae\x80\xed\xbf\xbf", "\xed\xaf\xbf\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf"},
		// 6.22 noncharacters, valid UTF-8
		nonchars,
		// 6.23 the Specials block
		{"\xef\xbf\xb9", "\xef\xbf\xba", "\xef\xbf\xbb", "\xef\xbf\xbc", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf"},
	}
}

// Section 6: UTF-8 handling.
func autobahnUTF8() []abCase {
	const cont = rawws.OpContinuation
	valid := "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!" // Hello-µ@ßöäüàá-UTF-8!!
	invalid := kosme + "\xed\xa0\x80" + "edited"                                       // a surrogate at byte 12
	out := []abCase{
		echoCase("6.1.1", once(rawws.Text("")), evText("")),
		echoCase("6.1.2", once(fr(false, 0, rawws.OpText, ""), fr(false, 0, cont, ""), fr(true, 0, cont, "")), evText("")),
		echoCase("6.1.3", once(fr(false, 0, rawws.OpText, ""), fr(false, 0, cont, "middle frame payload"), fr(true, 0, cont, "")), evText("middle frame payload")),
		utf8Case("6.2.1", valid, 0),
		// 6.2.2 splits between code points: "Hello-µ@ßöä" and "üàá-UTF-8!!".
		echoCase("6.2.2", once(fr(false, 0, rawws.OpText, valid[:15]), fr(true, 0, cont, valid[15:])), evText(valid)),
		utf8Case("6.2.3", valid, 1),
		utf8Case("6.2.4", kosme, 1),
		utf8Case("6.3.1", invalid, 0),
		utf8Case("6.3.2", invalid, 1),
	}
	out = append(out, failFastCases()...)
	for i, group := range utf8Sequences() {
		for j, s := range group {
			out = append(out, utf8Case(fmt.Sprintf("6.%d.%d", i+5, j+1), s, 0))
		}
	}
	return out
}

// failFastPayload is 6.4's message: kosme, then U+110000 in the old 4-byte
// scheme (invalid from its second byte, the 13th of the message), then
// "edited".
const failFastPayload = kosme + "\xf4\x90\x80\x80" + "edited"

// failFastParts returns the three parts of 6.4.1 to 6.4.4, with Autobahn's
// pauses of one second before the second and the third: in three frames
// (6.4.1, 6.4.2), or as three pieces of one frame (6.4.3, 6.4.4); cut after
// kosme and after the invalid sequence (6.4.1, 6.4.3) or right before and
// after the first invalid byte (6.4.2, 6.4.4).
func failFastParts(n int) []abPart {
	const cont = rawws.OpContinuation
	cut1, cut2 := len(kosme), len(kosme)+4
	if n == 2 || n == 4 {
		cut1, cut2 = 12, 13
	}
	p := failFastPayload
	var b1, b2, b3 []byte
	if n <= 2 {
		b1 = fr(false, 0, rawws.OpText, p[:cut1]).Bytes()
		b2 = fr(false, 0, cont, p[cut1:cut2]).Bytes()
		b3 = fr(true, 0, cont, p[cut2:]).Bytes()
	} else {
		// One frame without FIN whose payload is written in three
		// pieces, then an empty final continuation, as Autobahn's
		// streaming API ends a message.
		whole := fr(false, 0, rawws.OpText, p).Bytes()
		head := len(whole) - len(p)
		b1, b2 = whole[:head+cut1], whole[head+cut1:head+cut2]
		b3 = append(whole[head+cut2:], fr(true, 0, cont, "").Bytes()...)
	}
	return []abPart{
		{data: b1},
		{data: b2, wait: time.Second, label: "A"},
		{data: b3, wait: time.Second, label: "B"},
	}
}

// failFastCases are 6.4.1 to 6.4.4. The server must not close while the
// message is still valid (before the first pause ends); closing during the
// second pause, right after the invalid byte arrived, is OK; closing only
// after the end of the message is NON-STRICT.
func failFastCases() []abCase {
	var out []abCase
	for n := 1; n <= 4; n++ {
		out = append(out, abCase{
			id:     fmt.Sprintf("6.4.%d", n),
			parts:  failFastParts(n),
			expect: okOrNonStrict([]abEvent{evTimeout("A")}, []abEvent{evTimeout("A"), evTimeout("B")}),
			codes:  []int{core.CloseInvalidPayload},
		})
	}
	return out
}

// Section 7: the closing handshake.
func autobahnClose() []abCase {
	const hello = "Hello World!"
	closeOf := func(code uint16, reason string) rawws.Frame { return rawws.Close(rawws.ClosePayload(code, reason)) }
	// closing is a case where the client's close frame is among the bytes
	// it sends first; the server must answer it with one of codes.
	closing := func(id string, codes []int, clean bool, fs ...rawws.Frame) abCase {
		return abCase{id: id, parts: []abPart{{data: rawws.Join(fs...), closes: true}}, expect: ok(), byClient: true, codes: codes, clean: clean}
	}
	normal := []int{1000}
	out := []abCase{
		echoCase("7.1.1", once(rawws.Text(hello)), evText(hello)),
		closing("7.1.2", normal, true, closeOf(1000, ""), rawws.Close(nil)),
		closing("7.1.3", normal, true, closeOf(1000, ""), rawws.Ping(nil)),
		closing("7.1.4", normal, true, closeOf(1000, ""), rawws.Text(hello)),
		closing("7.1.5", normal, true, fr(false, 0, rawws.OpText, "fragment1"), closeOf(1000, ""), fr(true, 0, rawws.OpContinuation, "fragment2")),
	}
	// 7.1.6 is informational in Autobahn: a 256 KiB message, a small
	// one, the close and a ping. Whether the echoes go out before the
	// close is up to the server; the close must be 1000.
	big := repeatTo("BAsd7&jh23", 256<<10)
	c716 := closing("7.1.6", normal, true, rawws.Text(string(big)), rawws.Text(hello), closeOf(1000, ""), rawws.Ping(nil))
	c716.informational = true
	out = append(out,
		c716,
		// The client's close has no code; echoing it without one is what
		// RFC 6455 section 5.5.1 suggests, and Autobahn accepts it.
		closing("7.3.1", []int{1000, rawws.CloseNoStatus}, true, rawws.Close(nil)),
		// RFC 6455 section 5.5.1: a close payload of one byte is a
		// protocol error. Autobahn lists only 1002 (it would also take a
		// close frame without a code; this row does not).
		closing("7.3.2", []int{1002}, false, rawws.Close([]byte("a"))),
		closing("7.3.3", normal, true, closeOf(1000, "")),
		closing("7.3.4", normal, true, closeOf(1000, hello)),
		closing("7.3.5", normal, true, closeOf(1000, strings.Repeat("*", 123))),
		closing("7.3.6", []int{1002}, false, closeOf(1000, strings.Repeat("*", 124))),
		closing("7.5.1", []int{1002, 1007}, false, closeOf(1000, kosme+"\xed\xa0\x80edited")),
	)
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		out = append(out, closing(fmt.Sprintf("7.7.%d", i+1), []int{1000, code}, true, closeOf(uint16(code), "")))
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		out = append(out, closing(fmt.Sprintf("7.9.%d", i+1), []int{1002}, false, closeOf(uint16(code), "")))
	}
	// 7.13.x: codes outside every range RFC 6455 defines; informational
	// in Autobahn, which takes 1000, the code echoed or 1002.
	for i, code := range []int{5000, 65535} {
		c := closing(fmt.Sprintf("7.13.%d", i+1), []int{1000, code, 1002}, false, closeOf(uint16(code), ""))
		c.informational = true
		out = append(out, c)
	}
	return out
}

// Section 9: large messages, in one frame, in fragments, in chopped
// writes, and a thousand round trips, each echoed byte for byte.
func autobahnLimits() []abCase {
	var out []abCase
	// The payloads are built when a row runs, not with the table, so
	// that only one large message is in memory at a time.
	big := func(id string, build func() ([]abPart, abEvent)) abCase {
		c := echoCase(id, nil)
		c.sequential, c.patience = true, 120*time.Second
		c.build = func(c *abCase) {
			parts, ev := build()
			c.parts, c.expect = parts, ok(ev)
		}
		return c
	}
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	for i, n := range sizes {
		out = append(out, big(fmt.Sprintf("9.1.%d", i+1), func() ([]abPart, abEvent) {
			b := repeatTo("BAsd7&jh23", n)
			return once(rawws.Frame{Fin: true, Op: rawws.OpText, Payload: b}), evMessage(rawws.OpText, b)
		}))
	}
	for i, n := range sizes {
		out = append(out, big(fmt.Sprintf("9.2.%d", i+1), func() ([]abPart, abEvent) {
			b := repeatTo("\x00\xfe\x23\xfa\xf0", n)
			return once(rawws.Binary(b)), evBinary(b)
		}))
	}
	frags := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	for i, f := range frags {
		out = append(out, big(fmt.Sprintf("9.3.%d", i+1), func() ([]abPart, abEvent) {
			b := repeatTo("*", 4<<20)
			return once(rawws.Fragments(rawws.OpText, b, f)...), evMessage(rawws.OpText, b)
		}))
	}
	for i, f := range frags {
		// Autobahn's 9.4.1 fills with 0xfe, the other 9.4 cases with '*'.
		fill := "*"
		if i == 0 {
			fill = "\xfe"
		}
		out = append(out, big(fmt.Sprintf("9.4.%d", i+1), func() ([]abPart, abEvent) {
			b := repeatTo(fill, 4<<20)
			return once(rawws.Fragments(rawws.OpBinary, b, f)...), evBinary(b)
		}))
	}
	chops := []int{64, 128, 256, 512, 1024, 2048}
	for i, n := range chops {
		out = append(out, big(fmt.Sprintf("9.5.%d", i+1), func() ([]abPart, abEvent) {
			b := repeatTo("BAsd7&jh23", 1<<20)
			return chopped(n, rawws.Frame{Fin: true, Op: rawws.OpText, Payload: b}), evMessage(rawws.OpText, b)
		}))
	}
	for i, n := range chops {
		out = append(out, big(fmt.Sprintf("9.6.%d", i+1), func() ([]abPart, abEvent) {
			b := repeatTo("\x00\xfe\x23\xfa\xf0", 1<<20)
			return chopped(n, rawws.Binary(b)), evBinary(b)
		}))
	}
	for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
		out = append(out, roundTrips(fmt.Sprintf("9.7.%d", i+1), rawws.OpText, repeatTo("*", n), 1000))
	}
	for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
		out = append(out, roundTrips(fmt.Sprintf("9.8.%d", i+1), rawws.OpBinary, repeatTo("\xfe", n), 1000))
	}
	return out
}

// roundTrips sends one message of opcode op and payload, waits for its
// echo, and does it count times (9.7 and 9.8).
func roundTrips(id string, op byte, payload []byte, count int) abCase {
	evs := make([]abEvent, count)
	for i := range evs {
		evs[i] = evMessage(op, payload)
	}
	c := echoCase(id, nil, evs...)
	c.sequential, c.patience = true, 60*time.Second
	c.drive = func(s *abSession) error {
		for i := range count {
			if err := s.write(rawws.Frame{Fin: true, Op: op, Payload: payload}.Bytes(), 0); err != nil {
				return fmt.Errorf("message %d: %v", i+1, err)
			}
			got, found := s.nextMessage(i, 10*time.Second)
			if !found {
				return fmt.Errorf("no echo of message %d of %d", i+1, count)
			}
			if got.op != op || len(got.data) != len(payload) {
				return fmt.Errorf("echo of message %d: opcode %d, %d bytes; want %d, %d bytes", i+1, got.op, len(got.data), op, len(payload))
			}
		}
		return nil
	}
	return c
}

// fullCompression, set by RUSHWS_AUTOBAHN_FULL=1, sends Autobahn's full
// thousand messages in every row of sections 12 and 13.
var fullCompression = os.Getenv("RUSHWS_AUTOBAHN_FULL") == "1"

// compressionSizes are the rows of sections 12 and 13: message size and
// the size of the frames the compressed message is cut into (0: one
// frame).
var compressionSizes = []struct{ size, frag int }{
	{16, 0}, {64, 0}, {256, 0}, {1024, 0}, {4096, 0}, {8192, 0}, {16384, 0}, {32768, 0}, {65536, 0}, {131072, 0},
	{8192, 256}, {16384, 256}, {32768, 256}, {65536, 256}, {131072, 256},
	{131072, 1024}, {131072, 4096}, {131072, 32768},
}

// compressionBudget and compressionMax bound what one row of sections 12
// and 13 sends when RUSHWS_AUTOBAHN_FULL is not set. Autobahn sends a
// thousand messages in every row, up to 128 MiB a row: about 900 MiB for
// each of the twelve files and offer sets, which would take hours under
// -race on a 2-core machine. By default a row sends at most 100 messages
// and about 256 KiB, and at least eight messages, so every row still
// wraps around its file; the sizes, the frame sizes, the content and the
// offers are Autobahn's.
const (
	compressionBudget = 256 << 10
	compressionMax    = 100
)

// compressionCount is how many messages a row of size sends.
func compressionCount(size int) int {
	if fullCompression {
		return 1000
	}
	return min(compressionMax, max(8, compressionBudget/size))
}

// Section 12: messages compressed with permessage-deflate by gorilla's
// client (its own offer: both sides without context takeover), of five
// kinds of content, echoed by the hub and checked byte for byte. Gorilla
// writes a frame each time its write buffer fills, so a write buffer of the
// row's frame size cuts compressed messages where Autobahn cuts them.
func autobahnCompression() []abCase {
	var out []abCase
	for j := range 5 {
		for i, row := range compressionSizes {
			out = append(out, abCase{
				id:     fmt.Sprintf("12.%d.%d", j+1, i+1),
				custom: gorillaDeflateRoundTrips(j, row.size, row.frag, compressionCount(row.size)),
			})
		}
	}
	return out
}

// gorillaDeflateRoundTrips sends count messages of size from file j, one at
// a time, each after the echo of the one before, then closes with 1000.
func gorillaDeflateRoundTrips(j, size, frag, count int) func(t *testing.T, srv *abuseServer) string {
	return func(t *testing.T, srv *abuseServer) string {
		t.Helper()
		f := compressionFiles()[j]
		d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second, WriteBufferSize: frag}
		if frag == 0 {
			d.WriteBufferSize = 256 << 10 // every message in one frame
		}
		before := srv.hub.Stats().Accepted
		ws, res, err := d.Dial("ws://"+srv.addr+"/ws/lobby", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if ext := res.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
			t.Fatalf("permessage-deflate not negotiated (answer %q)", ext)
		}
		// The lobby, the bystander's own room and this connection's.
		eventually(t, "the route handler to run", func() bool { return srv.hub.Stats().Accepted > before && len(srv.hub.Rooms()) >= 3 })
		mt := websocket.TextMessage
		if f.binary {
			mt = websocket.BinaryMessage
		}
		sl := newSlicer(f)
		for i := range count {
			msg := sl.next(size)
			_ = ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := ws.WriteMessage(mt, msg); err != nil {
				t.Errorf("message %d of %d: %v", i+1, count, err)
				return ratingFailed
			}
			_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			got, b, err := ws.ReadMessage()
			if err != nil {
				t.Errorf("echo of message %d of %d: %v", i+1, count, err)
				return ratingFailed
			}
			if got != mt || !bytes.Equal(b, msg) {
				t.Errorf("echo of message %d: type %d, %d bytes; want type %d, the %d bytes sent", i+1, got, len(b), mt, len(msg))
				return ratingFailed
			}
		}
		if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(5*time.Second)); err != nil {
			t.Errorf("close: %v", err)
			return ratingFailed
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1000 {
			t.Errorf("after the client's close: %v; want the server's close 1000", err)
			return ratingFailed
		}
		_ = ws.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := ws.NetConn().Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("closing handshake not clean: the server did not close TCP after it (%v)", err)
			return ratingFailed
		}
		return ratingOK
	}
}

// deflateOffers are the offers of section 13, as Autobahn's client writes
// them: its default offer (client_no_context_takeover and
// client_max_window_bits without a value: "you may ask these of me"),
// then asking the server for no context takeover, a window of 9 or 15
// bits, both, and last three offers at once in order of preference.
var deflateOffers = []string{
	"permessage-deflate; client_no_context_takeover; client_max_window_bits",
	"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover",
	"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=9",
	"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=15",
	"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9",
	"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15",
	"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9, " +
		"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover, " +
		"permessage-deflate; client_no_context_takeover; client_max_window_bits",
}

// Section 13: the JSON file's messages, with each of Autobahn's offers,
// written by hand and compressed by the raw client as the server's answer
// requires (context takeover or not; a client window under 15 bits is
// honoured by sending Huffman codes only). The server's answer is logged:
// Autobahn rates the echoes, not the answer.
func autobahnCompressionParams() []abCase {
	var out []abCase
	for j, offer := range deflateOffers {
		for i, row := range compressionSizes {
			out = append(out, deflateRoundTrips(fmt.Sprintf("13.%d.%d", j+1, i+1), offer, compressionFiles()[0], row.size, row.frag, compressionCount(row.size)))
		}
	}
	return out
}

// deflateRoundTrips sends count compressed messages of size from f, cut in
// frames of frag bytes, one at a time, each after the echo of the one
// before.
func deflateRoundTrips(id, offer string, f compressionFile, size, frag, count int) abCase {
	c := echoCase(id, nil)
	c.offer, c.patience = offer, 60*time.Second
	c.build = func(c *abCase) {
		op := rawws.OpText
		if f.binary {
			op = rawws.OpBinary
		}
		sl := newSlicer(f)
		msgs := make([][]byte, count)
		evs := make([]abEvent, count)
		for i := range msgs {
			msgs[i] = sl.next(size)
			evs[i] = evMessage(op, msgs[i])
		}
		c.expect = ok(evs...)
		c.drive = func(s *abSession) error {
			if s.def == nil {
				return errors.New("permessage-deflate not negotiated")
			}
			for i, m := range msgs {
				if err := s.write(rawws.Join(compressedFrames(op, s.def.compress(m), frag)...), 0); err != nil {
					return fmt.Errorf("message %d of %d: %v", i+1, count, err)
				}
				got, found := s.nextMessage(i, 30*time.Second)
				if !found {
					return fmt.Errorf("no echo of message %d of %d", i+1, count)
				}
				if got.op != op || !bytes.Equal(got.data, m) {
					return fmt.Errorf("echo of message %d: opcode %d, %d bytes; want %d, the %d bytes sent", i+1, got.op, len(got.data), op, len(m))
				}
			}
			return nil
		}
	}
	return c
}
