package core_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/rawws"
	"go.uber.org/goleak"
)

// TestProtocolBeyondAutobahn holds the protocol cases Autobahn|Testsuite
// does not have, played and checked like the rows of TestAutobahn (same
// session, same bystander and Stats checks), against a hub with the
// default read limit, in both read modes: lengths no client may claim,
// reserved opcodes in shapes Autobahn does not send, every UTF-8 sequence
// of section 6 again in 1-byte fragments, close codes registered after
// Autobahn's list was written, the read limit, and permessage-deflate
// misuse. Each expects what RFC 6455 or RFC 7692 requires.
//
// Not parallel with other tests: it checks goroutines against its start.
func TestProtocolBeyondAutobahn(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			tally := newTally(t, "cases beyond Autobahn in read mode "+m.name)
			for _, g := range beyondGroups {
				t.Run(g.name, func(t *testing.T) {
					for _, tc := range g.cases() {
						t.Run(tc.id, func(t *testing.T) {
							t.Parallel()
							rating := ratingFailed
							defer func() { tally.add(t, g.name+"/"+tc.id, rating) }()
							cfg := core.Config{PingInterval: -1, ReadMode: m.mode, EnableCompression: tc.offer != ""}
							rating = runCase(t, cfg, tc)
						})
					}
				})
			}
		})
	}
	goleak.VerifyNone(t, ignore)
}

var beyondGroups = []struct {
	name  string
	cases func() []abCase
}{
	{"framing", beyondFraming},
	{"opcodes", beyondOpcodes},
	{"fragmentation", beyondFragmentation},
	{"utf8", beyondUTF8},
	{"close", beyondClose},
	{"limits", beyondLimits},
	{"deflate", beyondDeflate},
}

// beyondFraming: payload lengths no client may send.
func beyondFraming() []abCase {
	return []abCase{
		failCase("64-bit length with the top bit set", once(rawws.Frame{Fin: true, Op: rawws.OpBinary, Length: 1 << 63}), []int{1002}),
		failCase("64-bit length of all ones", once(rawws.Frame{Fin: true, Op: rawws.OpText, Length: 1<<64 - 1}), []int{1002}),
		failCase("64-bit length of 4 EiB, under the sign bit", once(rawws.Frame{Fin: true, Op: rawws.OpBinary, Length: 1 << 62}), []int{core.CloseTooBig}),
		failCase("unmasked client frame", once(rawws.Frame{Fin: true, Op: rawws.OpText, Payload: []byte("hi"), Unmasked: true}), []int{1002}),
	}
}

// beyondOpcodes: each reserved opcode in the shapes section 4 does not send
// it in (section 4 sends each opcode in one shape only).
func beyondOpcodes() []abCase {
	var out []abCase
	for i, op := range []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		out = append(out, failCase(fmt.Sprintf("opcode %d without FIN", op), once(fr(false, 0, op, "x")), []int{1002}))
		switch op {
		case 3, 4, 11, 12: // sent alone by section 4
			out = append(out, failCase(fmt.Sprintf("opcode %d with payload after a valid text, then ping", op),
				once(rawws.Text("Hello"), fr(true, 0, op, strings.Repeat("x", 3+i)), rawws.Ping(nil)), []int{1002}, evText("Hello")))
		default: // sent after a valid text by section 4
			out = append(out, failCase(fmt.Sprintf("opcode %d alone", op), once(fr(true, 0, op, "")), []int{1002}))
		}
	}
	return out
}

// beyondFragmentation: fragment shapes section 5 does not send.
func beyondFragmentation() []abCase {
	const cont = rawws.OpContinuation
	return []abCase{
		failCase("new binary frame mid-fragmentation", once(fr(false, 0, rawws.OpText, "fragment1"), fr(true, 0, rawws.OpBinary, "fragment2")), []int{1002}),
		failCase("fragmented close", once(rawws.Frame{Op: rawws.OpClose, Payload: rawws.ClosePayload(1000, "")}, fr(true, 0, cont, "")), []int{1002}),
		echoCase("empty fragments around a non-empty one",
			once(fr(false, 0, rawws.OpText, ""), fr(false, 0, cont, ""), fr(false, 0, cont, "middle"), fr(true, 0, cont, "")), evText("middle")),
	}
}

// beyondUTF8: every sequence of 6.5 to 6.23 again in 1-byte fragments (a
// code point split across fragments is fine, an invalid sequence is 1007
// however it is split), an invalid sequence inside a long text, and
// fail-fast demanded where Autobahn also accepts a late failure.
func beyondUTF8() []abCase {
	var out []abCase
	for i, group := range utf8Sequences() {
		for j, s := range group {
			out = append(out, utf8Case(fmt.Sprintf("6.%d.%d in 1-byte fragments", i+5, j+1), s, 1))
		}
	}
	long := strings.Repeat("a", 1000) + "\xf4\x90\x80\x80" + strings.Repeat("b", 1000)
	out = append(out,
		utf8Case("invalid sequence inside 2000 bytes of text", long, 0),
		utf8Case("invalid sequence inside 2000 bytes of text in 100-byte fragments", long, 100),
	)
	// RFC 6455 section 8.1: an endpoint fails the connection as soon as
	// it sees invalid UTF-8. 6.4.1 and 6.4.2 rate a failure only at the
	// end of the message NON-STRICT; these rows take only the OK
	// outcome: 1007 during the pause after the fragment carrying the
	// invalid byte, before the rest of the message is sent.
	for _, n := range []int{1, 2} {
		out = append(out, abCase{
			id:     fmt.Sprintf("fail fast: invalid UTF-8 in a later fragment (6.4.%d, OK only)", n),
			parts:  failFastParts(n),
			expect: ok(evTimeout("A")),
			codes:  []int{core.CloseInvalidPayload},
		})
	}
	return out
}

// beyondClose: close codes RFC 6455's registry gained after Autobahn's
// lists were written.
func beyondClose() []abCase {
	closing := func(id string, code int, codes ...int) abCase {
		return abCase{id: id, parts: []abPart{{data: closeFrame(uint16(code), "").Bytes(), closes: true}}, expect: ok(), byClient: true, codes: codes, clean: codes[0] != 1002}
	}
	return []abCase{
		closing("close code 1012 (service restart) echoed", 1012, 1012),
		closing("close code 1013 (try again later) echoed", 1013, 1013),
		closing("close code 1014 (bad gateway) echoed", 1014, 1014),
		closing("close code 1015 (TLS handshake, never on the wire) refused", 1015, 1002),
	}
}

// beyondLimits: the default read limit (64 KiB), whole and fragmented.
func beyondLimits() []abCase {
	at := strings.Repeat("L", core.DefaultReadLimit)
	over := at + "L"
	tooBig := []int{core.CloseTooBig}
	return []abCase{
		echoCase("text at the read limit", once(rawws.Text(at)), evText(at)),
		echoCase("binary at the read limit", once(rawws.Binary([]byte(at))), evBinary([]byte(at))),
		echoCase("text at the read limit in 1 KiB fragments", once(rawws.Fragments(rawws.OpText, []byte(at), 1024)...), evText(at)),
		failCase("text one byte over the read limit", once(rawws.Text(over)), tooBig),
		failCase("binary one byte over the read limit", once(rawws.Binary([]byte(over))), tooBig),
		failCase("text one byte over the read limit in 1 KiB fragments", once(rawws.Fragments(rawws.OpText, []byte(over), 1024)...), tooBig),
		failCase("binary one byte over the read limit in 64-byte fragments", once(rawws.Fragments(rawws.OpBinary, []byte(over), 64)...), tooBig),
		failCase("length of 1 MiB announced, never sent", once(rawws.Frame{Fin: true, Op: rawws.OpBinary, Length: 1 << 20}), tooBig),
	}
}

// deflateOffer is the offer of the deflate rows: both sides without
// context takeover, so that every compressed message stands alone.
const deflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

// compressed returns the payload of a compressed message carrying msg.
func compressed(msg []byte) []byte { return newDeflater(false, 0).compress(msg) }

// beyondDeflate: permessage-deflate (RFC 7692) misused, on a connection
// that negotiated it.
func beyondDeflate() []abCase {
	withDeflate := func(c abCase) abCase {
		c.offer = deflateOffer
		return c
	}
	hello := compressed([]byte("Hello"))
	random := make([]byte, core.DefaultReadLimit)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	randomZ := compressed(random)
	flat := []byte(strings.Repeat("a", core.DefaultReadLimit+1))
	return []abCase{
		// RFC 7692 section 6: RSV1 means "compressed" on the first frame of
		// a data message only; on anything else it is a protocol error.
		withDeflate(failCase("RSV1 on a ping", once(fr(true, 4, rawws.OpPing, "ping")), []int{1002})),
		withDeflate(failCase("RSV1 on a pong", once(fr(true, 4, rawws.OpPong, "pong")), []int{1002})),
		// A close frame with RSV1 is not a close: it must not be answered
		// as a normal closure.
		withDeflate(failCase("RSV1 on a close", once(rawws.Frame{Fin: true, Rsv: 4, Op: rawws.OpClose, Payload: rawws.ClosePayload(1000, "")}), []int{1002})),
		withDeflate(failCase("RSV1 on a continuation frame", once(
			rawws.Frame{Rsv: 4, Op: rawws.OpText, Payload: hello[:2]},
			rawws.Frame{Fin: true, Rsv: 4, Op: rawws.OpContinuation, Payload: hello[2:]}), []int{1002})),
		// Data that does not inflate (a block of the reserved type 3):
		// the server must say why in a close frame, not drop the TCP
		// connection.
		withDeflate(failCase("corrupt deflate data", once(rawws.Frame{Fin: true, Rsv: 4, Op: rawws.OpText, Payload: []byte{0x07, 0x00, 0x12, 0x34}}),
			[]int{core.CloseInvalidPayload, 1002})),
		// An empty compressed payload inflates to an empty message (the
		// receiver appends 00 00 ff ff: an empty stored block).
		withDeflate(echoCase("empty compressed message", once(rawws.Frame{Fin: true, Rsv: 4, Op: rawws.OpText}), evText(""))),
		withDeflate(echoCase("compressed message split across frames", once(
			rawws.Frame{Rsv: 4, Op: rawws.OpText, Payload: hello[:2]},
			rawws.Frame{Fin: true, Op: rawws.OpContinuation, Payload: hello[2:]}), evText("Hello"))),
		// The read limit counts inflated bytes (Config.ReadLimit): random
		// bytes of exactly the limit grow when compressed and must pass;
		// a byte over the limit that compresses to almost nothing must
		// not.
		withDeflate(echoCase(fmt.Sprintf("read limit: %d bytes inflated, %d compressed, accepted", len(random), len(randomZ)),
			once(compressedFrames(rawws.OpBinary, randomZ, 0)...), evBinary(random))),
		withDeflate(failCase(fmt.Sprintf("read limit: %d bytes inflated, %d compressed, refused", len(flat), len(compressed(flat))),
			once(compressedFrames(rawws.OpText, compressed(flat), 0)...), []int{core.CloseTooBig})),
	}
}
