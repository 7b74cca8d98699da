package core_test

import (
	"bufio"
	"bytes"
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
	"unicode/utf8"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/rawws"
	"go.uber.org/goleak"
)

// The protocol abuse suite: the case list of the Autobahn|Testsuite
// sections 1 to 7 and 9 (framing, pings and pongs, reserved bits, opcodes,
// fragmentation, UTF-8, close handling, limits), sent by a hand-written
// client that masks frames as a client must but puts on the wire whatever
// the case asks. Each case checks what the client sees (echoed data, pongs,
// the close code), that a bystander in the same room still gets a
// broadcast, that the connection is gone from every room and from Stats,
// and that no goroutine of it remains.

// abuseCase is one row of the protocol table.
type abuseCase struct {
	name string
	// send is written after the handshake: in one write, or in pieces of
	// chop bytes.
	send []byte
	chop int
	// goodbye appends a normal close (1000) after send, for cases where the
	// connection must survive what was sent.
	goodbye bool
	// want are the messages the server must echo, in order; pongs the
	// payloads of the pongs it must send.
	want  []rawws.Message
	pongs [][]byte
	// code is the close code the client must see; also lists other codes
	// that are accepted (gorilla's choice where the RFC allows one).
	code int
	also []int
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

func text(s string) rawws.Message     { return rawws.Message{Op: rawws.OpText, Payload: []byte(s)} }
func binMsg(b []byte) rawws.Message   { return rawws.Message{Op: rawws.OpBinary, Payload: b} }
func frames(fs ...rawws.Frame) []byte { return rawws.Join(fs...) }

// fr builds a frame: fin, rsv, opcode, payload.
func fr(fin bool, rsv, op byte, payload string) rawws.Frame {
	return rawws.Frame{Fin: fin, Rsv: rsv, Op: op, Payload: []byte(payload)}
}

func closeFrame(code uint16, reason string) rawws.Frame {
	return rawws.Close(rawws.ClosePayload(code, reason))
}

// framingCases port section 1: text and binary messages of the lengths
// where the length encoding changes, plus lengths no client may claim.
func framingCases() []abuseCase {
	var out []abuseCase
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		s := strings.Repeat("*", n)
		b := bytes.Repeat([]byte{0xfe}, n)
		out = append(out,
			abuseCase{name: fmt.Sprintf("1.1 text %d bytes", n), send: frames(rawws.Text(s)), goodbye: true, want: []rawws.Message{text(s)}, code: 1000},
			abuseCase{name: fmt.Sprintf("1.2 binary %d bytes", n), send: frames(rawws.Binary(b)), goodbye: true, want: []rawws.Message{binMsg(b)}, code: 1000},
		)
	}
	s := strings.Repeat("*", 65536)
	b := bytes.Repeat([]byte{0xfe}, 65536)
	out = append(out,
		abuseCase{name: "1.1.8 text 65536 bytes chopped in 997-byte writes", send: frames(rawws.Text(s)), chop: 997, goodbye: true, want: []rawws.Message{text(s)}, code: 1000},
		abuseCase{name: "1.2.8 binary 65536 bytes chopped in 997-byte writes", send: frames(rawws.Binary(b)), chop: 997, goodbye: true, want: []rawws.Message{binMsg(b)}, code: 1000},
		abuseCase{name: "64-bit length with the top bit set", send: frames(rawws.Frame{Fin: true, Op: rawws.OpBinary, Length: 1 << 63}), code: 1002},
		abuseCase{name: "64-bit length of all ones", send: frames(rawws.Frame{Fin: true, Op: rawws.OpText, Length: 1<<64 - 1}), code: 1002},
		abuseCase{name: "64-bit length of 4 EiB, under the sign bit", send: frames(rawws.Frame{Fin: true, Op: rawws.OpBinary, Length: 1 << 62}), code: core.CloseTooBig},
		abuseCase{name: "unmasked client frame", send: frames(rawws.Frame{Fin: true, Op: rawws.OpText, Payload: []byte("hi"), Unmasked: true}), code: 1002},
	)
	return out
}

// pingCases port section 2.
func pingCases() []abuseCase {
	bin := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
	p125 := bytes.Repeat([]byte{0xfe}, 125)
	var ten []rawws.Frame
	var tenPongs [][]byte
	for i := range 10 {
		p := []byte(fmt.Sprintf("payload-%d", i))
		ten = append(ten, rawws.Ping(p))
		tenPongs = append(tenPongs, p)
	}
	return []abuseCase{
		{name: "2.1 ping without payload", send: frames(rawws.Ping(nil)), goodbye: true, pongs: [][]byte{{}}, code: 1000},
		{name: "2.2 ping with text payload", send: frames(rawws.Ping([]byte("Hello, world!"))), goodbye: true, pongs: [][]byte{[]byte("Hello, world!")}, code: 1000},
		{name: "2.3 ping with binary payload", send: frames(rawws.Ping(bin)), goodbye: true, pongs: [][]byte{bin}, code: 1000},
		{name: "2.4 ping with 125-byte payload", send: frames(rawws.Ping(p125)), goodbye: true, pongs: [][]byte{p125}, code: 1000},
		{name: "2.5 ping with 126-byte payload", send: frames(rawws.Ping(bytes.Repeat([]byte{0xfe}, 126))), code: 1002},
		{name: "2.6 ping with 125-byte payload chopped in 1-byte writes", send: frames(rawws.Ping(p125)), chop: 1, goodbye: true, pongs: [][]byte{p125}, code: 1000},
		{name: "2.7 unsolicited pong without payload", send: frames(rawws.Pong(nil)), goodbye: true, code: 1000},
		{name: "2.8 unsolicited pong with payload", send: frames(rawws.Pong([]byte("unsolicited pong payload"))), goodbye: true, code: 1000},
		{name: "2.9 unsolicited pong then ping", send: frames(rawws.Pong([]byte("unsolicited pong payload")), rawws.Ping([]byte("ping payload"))),
			goodbye: true, pongs: [][]byte{[]byte("ping payload")}, code: 1000},
		{name: "2.10 ten pings", send: frames(ten...), goodbye: true, pongs: tenPongs, code: 1000},
		{name: "2.11 ten pings chopped in 1-byte writes", send: frames(ten...), chop: 1, goodbye: true, pongs: tenPongs, code: 1000},
	}
}

// rsvCases port section 3: any reserved bit fails the connection.
func rsvCases() []abuseCase {
	hello := rawws.Text("Hello")
	return []abuseCase{
		{name: "3.1 RSV=1 text", send: frames(fr(true, 1, rawws.OpText, "Hello")), code: 1002},
		{name: "3.2 RSV=2 text after a valid text, then ping", send: frames(hello, fr(true, 2, rawws.OpText, "Hello"), rawws.Ping(nil)),
			want: []rawws.Message{text("Hello")}, code: 1002},
		{name: "3.3 RSV=3 text chopped by frame", send: frames(hello, fr(true, 3, rawws.OpText, "Hello"), rawws.Ping(nil)), chop: 7,
			want: []rawws.Message{text("Hello")}, code: 1002},
		{name: "3.4 RSV=4 text chopped in 1-byte writes", send: frames(hello, fr(true, 4, rawws.OpText, "Hello"), rawws.Ping(nil)), chop: 1,
			want: []rawws.Message{text("Hello")}, code: 1002},
		{name: "3.5 RSV=5 binary", send: frames(rawws.Frame{Fin: true, Rsv: 5, Op: rawws.OpBinary, Payload: []byte{0, 1, 2}}), code: 1002},
		{name: "3.6 RSV=6 ping", send: frames(fr(true, 6, rawws.OpPing, "Hello")), code: 1002},
		{name: "3.7 RSV=7 close", send: frames(rawws.Frame{Fin: true, Rsv: 7, Op: rawws.OpClose, Payload: rawws.ClosePayload(1000, "")}), code: 1002},
	}
}

// opcodeCases port section 4: reserved opcodes fail the connection.
func opcodeCases() []abuseCase {
	var out []abuseCase
	for i, op := range []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		sec := "4.1"
		if op > 8 {
			sec = "4.2"
		}
		out = append(out,
			abuseCase{name: fmt.Sprintf("%s opcode %d alone", sec, op), send: frames(fr(true, 0, op, "")), code: 1002},
			abuseCase{name: fmt.Sprintf("%s opcode %d with payload after a valid text, then ping", sec, op),
				send: frames(rawws.Text("Hello"), fr(true, 0, op, strings.Repeat("x", 3+i)), rawws.Ping(nil)),
				want: []rawws.Message{text("Hello")}, code: 1002},
			abuseCase{name: fmt.Sprintf("%s opcode %d without FIN", sec, op), send: frames(fr(false, 0, op, "x")), code: 1002},
		)
	}
	return out
}

// fragmentationCases port section 5.
func fragmentationCases() []abuseCase {
	f1 := fr(false, 0, rawws.OpText, "fragment1")
	f2 := fr(true, 0, rawws.OpContinuation, "fragment2")
	both := []rawws.Message{text("fragment1fragment2")}
	ping := rawws.Ping([]byte("pongme!"))
	contAlone := frames(fr(true, 0, rawws.OpContinuation, "non-continuation payload"), rawws.Text("Hello, world!"))
	contOpen := frames(fr(false, 0, rawws.OpContinuation, "non-continuation payload"), rawws.Text("Hello, world!"))
	var five []rawws.Frame
	for i := 1; i <= 5; i++ {
		op := rawws.OpContinuation
		if i == 1 {
			op = rawws.OpText
		}
		five = append(five, fr(i == 5, 0, op, fmt.Sprintf("fragment%d", i)))
		if i < 5 && i%2 == 1 {
			five = append(five, rawws.Ping([]byte(fmt.Sprintf("pongme %d!", i))))
		}
	}
	fivePongs := [][]byte{[]byte("pongme 1!"), []byte("pongme 3!")}
	fiveMsg := []rawws.Message{text("fragment1fragment2fragment3fragment4fragment5")}
	return []abuseCase{
		{name: "5.1 ping in 2 fragments", send: frames(fr(false, 0, rawws.OpPing, "fragment1"), fr(true, 0, rawws.OpContinuation, "fragment2")), code: 1002},
		{name: "5.2 pong in 2 fragments", send: frames(fr(false, 0, rawws.OpPong, "fragment1"), fr(true, 0, rawws.OpContinuation, "fragment2")), code: 1002},
		{name: "5.3 text in 2 fragments", send: frames(f1, f2), goodbye: true, want: both, code: 1000},
		{name: "5.4 text in 2 fragments chopped by frame", send: frames(f1, f2), chop: 15, goodbye: true, want: both, code: 1000},
		{name: "5.5 text in 2 fragments chopped in 1-byte writes", send: frames(f1, f2), chop: 1, goodbye: true, want: both, code: 1000},
		{name: "5.6 text in 2 fragments with a ping between", send: frames(f1, ping, f2), goodbye: true, want: both, pongs: [][]byte{[]byte("pongme!")}, code: 1000},
		{name: "5.7 text in 2 fragments with a ping between chopped by frame", send: frames(f1, ping, f2), chop: 13, goodbye: true, want: both, pongs: [][]byte{[]byte("pongme!")}, code: 1000},
		{name: "5.8 text in 2 fragments with a ping between chopped in 1-byte writes", send: frames(f1, ping, f2), chop: 1, goodbye: true, want: both, pongs: [][]byte{[]byte("pongme!")}, code: 1000},
		{name: "5.9 continuation with FIN without a start", send: contAlone, code: 1002},
		{name: "5.10 continuation with FIN without a start chopped by frame", send: contAlone, chop: 30, code: 1002},
		{name: "5.11 continuation with FIN without a start chopped in 1-byte writes", send: contAlone, chop: 1, code: 1002},
		{name: "5.12 continuation without FIN without a start", send: contOpen, code: 1002},
		{name: "5.13 continuation without FIN without a start chopped by frame", send: contOpen, chop: 30, code: 1002},
		{name: "5.14 continuation without FIN without a start chopped in 1-byte writes", send: contOpen, chop: 1, code: 1002},
		{name: "5.15 two fragments, then a continuation and a text mid-message",
			send: frames(f1, f2, fr(false, 0, rawws.OpContinuation, "fragment3"), fr(true, 0, rawws.OpText, "fragment4")), want: both, code: 1002},
		{name: "5.16 continuations without a start, twice",
			send: frames(fr(false, 0, rawws.OpContinuation, "fragment1"), fr(false, 0, rawws.OpText, "fragment2"), fr(true, 0, rawws.OpContinuation, "fragment3"),
				fr(false, 0, rawws.OpContinuation, "fragment1"), fr(false, 0, rawws.OpText, "fragment2"), fr(true, 0, rawws.OpContinuation, "fragment3")), code: 1002},
		{name: "5.17 continuations with FIN without a start, twice",
			send: frames(fr(true, 0, rawws.OpContinuation, "fragment1"), fr(false, 0, rawws.OpText, "fragment2"), fr(true, 0, rawws.OpContinuation, "fragment3"),
				fr(true, 0, rawws.OpContinuation, "fragment1"), fr(false, 0, rawws.OpText, "fragment2"), fr(true, 0, rawws.OpContinuation, "fragment3")), code: 1002},
		{name: "5.18 new text frame mid-fragmentation", send: frames(f1, fr(true, 0, rawws.OpText, "fragment2")), code: 1002},
		{name: "5.18b new binary frame mid-fragmentation", send: frames(f1, fr(true, 0, rawws.OpBinary, "fragment2")), code: 1002},
		{name: "5.19 text in 5 fragments with pings between", send: frames(five...), goodbye: true, want: fiveMsg, pongs: fivePongs, code: 1000},
		{name: "5.20 text in 5 fragments with pings between chopped in 1-byte writes", send: frames(five...), chop: 1, goodbye: true, want: fiveMsg, pongs: fivePongs, code: 1000},
		{name: "fragmented close", send: frames(rawws.Frame{Op: rawws.OpClose, Payload: rawws.ClosePayload(1000, "")}, fr(true, 0, rawws.OpContinuation, "")), code: 1002},
		{name: "empty continuation frames then FIN",
			send:    frames(fr(false, 0, rawws.OpText, ""), fr(false, 0, rawws.OpContinuation, ""), fr(false, 0, rawws.OpContinuation, "middle"), fr(true, 0, rawws.OpContinuation, "")),
			goodbye: true, want: []rawws.Message{text("middle")}, code: 1000},
	}
}

// utf8Cases port section 6: each sequence as one text frame, and again in
// 1-byte fragments (a code point split across fragments is fine; an invalid
// sequence is refused with 1007 however it is split).
func utf8Cases() []abuseCase {
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	seqs := []struct{ name, s string }{
		{"6.1.1 empty", ""},
		{"6.2.1 valid mixed", "Hello-µ@ßöäüàá-UTF-8!!"},
		{"6.3.1 surrogate in kosme-edited", kosme + "\xed\xa0\x80edited"},
		{"6.4.1 U+110000 in the first part", kosme + "\xf4\x90\x80\x80edited"},
		{"6.4.3 invalid in the middle of a long text", strings.Repeat("a", 1000) + "\xf4\x90\x80\x80" + strings.Repeat("b", 1000)},
		{"6.5.1 kosme", kosme},
		{"6.7.1 U+0000", "\x00"}, {"6.7.2 U+0080", "\xc2\x80"}, {"6.7.3 U+0800", "\xe0\xa0\x80"}, {"6.7.4 U+10000", "\xf0\x90\x80\x80"},
		{"6.8.1 5-byte first", "\xf8\x88\x80\x80\x80"}, {"6.8.2 6-byte first", "\xfc\x84\x80\x80\x80\x80"},
		{"6.9.1 U+007F", "\x7f"}, {"6.9.2 U+07FF", "\xdf\xbf"}, {"6.9.3 U+FFFF", "\xef\xbf\xbf"}, {"6.9.4 U+10FFFF", "\xf4\x8f\xbf\xbf"},
		{"6.10.1 4-byte 1FFFFF", "\xf7\xbf\xbf\xbf"}, {"6.10.2 5-byte last", "\xfb\xbf\xbf\xbf\xbf"}, {"6.10.3 6-byte last", "\xfd\xbf\xbf\xbf\xbf\xbf"},
		{"6.11.1 U+D7FF", "\xed\x9f\xbf"}, {"6.11.2 U+E000", "\xee\x80\x80"}, {"6.11.3 U+FFFD", "\xef\xbf\xbd"}, {"6.11.4 U+10FFFF", "\xf4\x8f\xbf\xbf"}, {"6.11.5 U+110000", "\xf4\x90\x80\x80"},
		{"6.12.1 lone 0x80", "\x80"}, {"6.12.2 lone 0xbf", "\xbf"}, {"6.12.3 2 continuations", "\x80\xbf"}, {"6.12.4 3 continuations", "\x80\xbf\x80"},
		{"6.12.5 4 continuations", "\x80\xbf\x80\xbf"}, {"6.12.8 every continuation byte", allBytes(0x80, 0xbf, "")},
		{"6.13.1 lone 2-byte starts", allBytes(0xc0, 0xdf, " ")}, {"6.13.2 lone 3-byte starts", allBytes(0xe0, 0xef, " ")},
		{"6.13.3 lone 4-byte starts", allBytes(0xf0, 0xf7, " ")}, {"6.13.4 lone 5-byte starts", allBytes(0xf8, 0xfb, " ")}, {"6.13.5 lone 6-byte starts", allBytes(0xfc, 0xfd, " ")},
		{"6.14.1 2-byte U+0000 missing last", "\xc0"}, {"6.14.2 3-byte missing last", "\xe0\x80"}, {"6.14.3 4-byte missing last", "\xf0\x80\x80"},
		{"6.14.6 2-byte U+07FF missing last", "\xdf"}, {"6.14.7 3-byte U+FFFF missing last", "\xef\xbf"}, {"6.14.8 4-byte missing last", "\xf7\xbf\xbf"},
		{"6.15.1 incomplete sequences concatenated", "\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf"},
		{"6.16.1 0xfe", "\xfe"}, {"6.16.2 0xff", "\xff"}, {"6.16.3 fe fe ff ff", "\xfe\xfe\xff\xff"},
		{"6.17.1 overlong / in 2 bytes", "\xc0\xaf"}, {"6.17.2 overlong / in 3 bytes", "\xe0\x80\xaf"}, {"6.17.3 overlong / in 4 bytes", "\xf0\x80\x80\xaf"},
		{"6.17.4 overlong / in 5 bytes", "\xf8\x80\x80\x80\xaf"}, {"6.17.5 overlong / in 6 bytes", "\xfc\x80\x80\x80\x80\xaf"},
		{"6.18.1 max overlong 2 bytes", "\xc1\xbf"}, {"6.18.2 max overlong 3 bytes", "\xe0\x9f\xbf"}, {"6.18.3 max overlong 4 bytes", "\xf0\x8f\xbf\xbf"},
		{"6.19.1 overlong NUL 2 bytes", "\xc0\x80"}, {"6.19.2 overlong NUL 3 bytes", "\xe0\x80\x80"}, {"6.19.3 overlong NUL 4 bytes", "\xf0\x80\x80\x80"},
		{"6.20.1 U+D800", "\xed\xa0\x80"}, {"6.20.2 U+DB7F", "\xed\xad\xbf"}, {"6.20.3 U+DB80", "\xed\xae\x80"}, {"6.20.4 U+DBFF", "\xed\xaf\xbf"},
		{"6.20.5 U+DC00", "\xed\xb0\x80"}, {"6.20.6 U+DF80", "\xed\xbe\x80"}, {"6.20.7 U+DFFF", "\xed\xbf\xbf"},
		{"6.21.1 U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80"}, {"6.21.2 U+D800 U+DFFF", "\xed\xa0\x80\xed\xbf\xbf"},
		{"6.21.3 U+DB7F U+DC00", "\xed\xad\xbf\xed\xb0\x80"}, {"6.21.8 U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf"},
		{"6.23.1 U+FFFD", "\xef\xbf\xbd"}, {"6.23.2 U+FEFF", "\xef\xbb\xbf"}, {"6.23.3 U+2060", "\xe2\x81\xa0"},
	}
	// 6.22: the noncharacters U+xFFFE and U+xFFFF of every plane are valid.
	for plane := range 17 {
		for _, low := range []rune{0xfffe, 0xffff} {
			r := rune(plane)<<16 | low
			seqs = append(seqs, struct{ name, s string }{fmt.Sprintf("6.22 noncharacter U+%04X", r), string(r)})
		}
	}
	// 6.6: every prefix of kosme, valid exactly when it ends between code
	// points.
	for n := 1; n <= len(kosme); n++ {
		seqs = append(seqs, struct{ name, s string }{fmt.Sprintf("6.6.%d kosme prefix of %d bytes", n, n), kosme[:n]})
	}
	var out []abuseCase
	for _, sq := range seqs {
		for _, split := range []bool{false, true} {
			c := abuseCase{name: sq.name, send: frames(rawws.Text(sq.s))}
			if split {
				c.name += " in 1-byte fragments"
				c.send = frames(rawws.Fragments(rawws.OpText, []byte(sq.s), 1)...)
			}
			if utf8.ValidString(sq.s) {
				c.goodbye, c.want, c.code = true, []rawws.Message{text(sq.s)}, 1000
			} else {
				c.code = core.CloseInvalidPayload
			}
			out = append(out, c)
		}
	}
	return out
}

// allBytes returns the bytes from lo to hi, each followed by sep.
func allBytes(lo, hi byte, sep string) string {
	var b strings.Builder
	for c := int(lo); c <= int(hi); c++ {
		b.WriteByte(byte(c))
		b.WriteString(sep)
	}
	return b.String()
}

// closeCases port section 7.
func closeCases() []abuseCase {
	out := []abuseCase{
		{name: "7.1.1 text then close", send: frames(rawws.Text("Hello World!"), closeFrame(1000, "")), want: []rawws.Message{text("Hello World!")}, code: 1000},
		{name: "7.1.2 close twice", send: frames(closeFrame(1000, ""), closeFrame(1000, "")), code: 1000},
		{name: "7.1.3 ping after close", send: frames(closeFrame(1000, ""), rawws.Ping([]byte("Hello World!"))), code: 1000},
		{name: "7.1.4 text after close", send: frames(closeFrame(1000, ""), rawws.Text("Hello World!")), code: 1000},
		{name: "7.1.5 close mid-fragmentation", send: frames(fr(false, 0, rawws.OpText, "fragment1"), closeFrame(1000, ""), fr(true, 0, rawws.OpContinuation, "fragment2")), code: 1000},
		{name: "7.1.6 large text, then close", send: frames(rawws.Text(strings.Repeat("BAsd7&jh23", 6000)), closeFrame(1000, "")),
			want: []rawws.Message{text(strings.Repeat("BAsd7&jh23", 6000))}, code: 1000},
		{name: "7.3.1 close without payload", send: frames(rawws.Close(nil)), code: rawws.CloseNoStatus},
		// RFC 6455 makes a 1-byte close payload a protocol error; gorilla
		// reads it as a close without a code and answers with an empty
		// close frame. Either way the connection ends cleanly.
		{name: "7.3.2 close with 1-byte payload", send: frames(rawws.Close([]byte{0x03})), code: 1002, also: []int{rawws.CloseNoStatus}},
		{name: "7.3.3 close with code only", send: frames(closeFrame(1000, "")), code: 1000},
		{name: "7.3.4 close with code and reason", send: frames(closeFrame(1000, "Hello World!")), code: 1000},
		{name: "7.3.5 close with 123-byte reason", send: frames(closeFrame(1000, strings.Repeat("*", 123))), code: 1000},
		{name: "7.3.6 close with 124-byte reason (control payload over 125)", send: frames(closeFrame(1000, strings.Repeat("*", 124))), code: 1002},
		{name: "7.5.1 close reason not valid UTF-8", send: frames(closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")),
			code: core.CloseInvalidPayload, also: []int{1002}},
	}
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 3999, 4000, 4999} {
		out = append(out, abuseCase{name: fmt.Sprintf("7.7 valid close code %d is echoed", code), send: frames(closeFrame(code, "")), code: int(code)})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		c := abuseCase{name: fmt.Sprintf("7.9 invalid close code %d", code), send: frames(closeFrame(code, "")), code: 1002}
		out = append(out, c)
	}
	return out
}

// limitCases port section 9 at the hub's read limit (the default, 64 KiB):
// a message of exactly the limit passes, one byte more is refused with
// 1009, however it is fragmented.
func limitCases() []abuseCase {
	at := strings.Repeat("L", core.DefaultReadLimit)
	over := at + "L"
	return []abuseCase{
		{name: "9 text at the read limit", send: frames(rawws.Text(at)), goodbye: true, want: []rawws.Message{text(at)}, code: 1000},
		{name: "9 binary at the read limit", send: frames(rawws.Binary([]byte(at))), goodbye: true, want: []rawws.Message{binMsg([]byte(at))}, code: 1000},
		{name: "9 text at the read limit in 1 KiB fragments", send: frames(rawws.Fragments(rawws.OpText, []byte(at), 1024)...), goodbye: true, want: []rawws.Message{text(at)}, code: 1000},
		{name: "9 text one byte over the read limit", send: frames(rawws.Text(over)), code: core.CloseTooBig},
		{name: "9 binary one byte over the read limit", send: frames(rawws.Binary([]byte(over))), code: core.CloseTooBig},
		{name: "9 text one byte over the read limit in 1 KiB fragments", send: frames(rawws.Fragments(rawws.OpText, []byte(over), 1024)...), code: core.CloseTooBig},
		{name: "9 binary one byte over the read limit in 64-byte fragments", send: frames(rawws.Fragments(rawws.OpBinary, []byte(over), 64)...), code: core.CloseTooBig},
		{name: "9 length of 1 MiB announced, never sent", send: frames(rawws.Frame{Fin: true, Op: rawws.OpBinary, Length: 1 << 20}), code: core.CloseTooBig},
	}
}

// abuseServer starts the hub the protocol table runs against, with a
// bystander connected to the room "lobby".
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

// run plays one case.
func (s *abuseServer) run(t *testing.T, tc abuseCase) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	c := s.dial(t)
	send := tc.send
	if tc.goodbye {
		send = append(append([]byte(nil), send...), closeFrame(1000, "").Bytes()...)
	}
	var err error
	if tc.chop > 0 {
		err = c.WriteChopped(send, tc.chop)
	} else {
		err = c.Write(send)
	}
	if err != nil {
		t.Logf("write: %v (the server may close before reading everything)", err)
	}
	res := c.Drain(10 * time.Second)
	codeOK := res.Code == tc.code
	for _, alt := range tc.also {
		codeOK = codeOK || res.Code == alt
	}
	if !codeOK {
		t.Errorf("close code = %d %q (err %v), want %d (or %v)", res.Code, res.Reason, res.Err, tc.code, tc.also)
	}
	if res.Code != rawws.CloseAbnormal && res.Err != nil {
		t.Errorf("server frames: %v", res.Err)
	}
	if len(res.Messages) != len(tc.want) {
		t.Errorf("server echoed %d messages, want %d", len(res.Messages), len(tc.want))
	} else {
		for i, m := range res.Messages {
			if m.Op != tc.want[i].Op || !bytes.Equal(m.Payload, tc.want[i].Payload) {
				t.Errorf("message %d = opcode %d %.60q, want opcode %d %.60q", i, m.Op, m.Payload, tc.want[i].Op, tc.want[i].Payload)
			}
		}
	}
	if len(res.Pongs) != len(tc.pongs) {
		t.Errorf("server sent %d pongs, want %d", len(res.Pongs), len(tc.pongs))
	} else {
		for i, p := range res.Pongs {
			if !bytes.Equal(p, tc.pongs[i]) {
				t.Errorf("pong %d = %q, want %q", i, p, tc.pongs[i])
			}
		}
	}
	s.checkGone(t)
	s.checkBystander(t)
	goleak.VerifyNone(t, ignore)
}

// abuseSections lists the table by section.
var abuseSections = []struct {
	name  string
	cases func() []abuseCase
}{
	{"framing", framingCases},
	{"pings", pingCases},
	{"reserved bits", rsvCases},
	{"opcodes", opcodeCases},
	{"fragmentation", fragmentationCases},
	{"utf8", utf8Cases},
	{"close", closeCases},
	{"limits", limitCases},
}

func TestProtocolAbuse(t *testing.T) {
	s := newAbuseServer(t, core.Config{PingInterval: -1})
	tried, failed := 0, 0
	for _, sec := range abuseSections {
		t.Run(sec.name, func(t *testing.T) {
			for _, tc := range sec.cases() {
				tried++
				if !t.Run(tc.name, func(t *testing.T) { s.run(t, tc) }) {
					failed++
				}
			}
		})
	}
	t.Logf("protocol cases: %d tried, %d passed", tried, tried-failed)
	if st := s.hub.Stats(); st.Accepted != uint64(tried+1) {
		t.Errorf("Stats.Accepted = %d, want %d", st.Accepted, tried+1)
	}
}

// TestEarlyData sends the first frame in the same packet as the handshake,
// which RFC 6455 forbids a client to do. The server may refuse it, but
// must not log an error, must write nothing into the connection it took
// over after refusing, and must count the refusal.
func TestEarlyData(t *testing.T) {
	s := newAbuseServer(t, core.Config{PingInterval: -1})
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
func TestEmptyContinuationFlood(t *testing.T) {
	s := newAbuseServer(t, core.Config{PingInterval: -1})
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
	s := newAbuseServer(t, core.Config{PingInterval: -1})
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
	t.Run("stops sending mid-frame", func(t *testing.T) {
		s := newAbuseServer(t, core.Config{PingInterval: 50 * time.Millisecond, PongTimeout: 200 * time.Millisecond})
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
		s := newAbuseServer(t, core.Config{PingInterval: -1, WriteTimeout: 300 * time.Millisecond})
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
	s := newAbuseServer(t, core.Config{PingInterval: -1})
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
	s := newAbuseServer(t, core.Config{PingInterval: -1})
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
		time.Sleep(10 * unit) // past ReadTimeout and WriteTimeout
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
	s := newAbuseServer(t, core.Config{PingInterval: -1})
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
