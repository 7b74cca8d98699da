package core_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/internal/rawws"
)

// The client half of permessage-deflate (RFC 7692) for the raw client: an
// offer written by hand, the server's answer parsed, messages compressed
// with compress/flate and split into frames of any size, and the server's
// compressed messages inflated. No Go WebSocket library can offer the
// parameter sets Autobahn's section 13 offers (server_max_window_bits,
// several offers in one header), nor send the broken compressed frames the
// cases beyond Autobahn send.

// deflateParams is what the server's Sec-WebSocket-Extensions answer
// agreed.
type deflateParams struct {
	on                               bool
	clientNoContext, serverNoContext bool
	// clientBits and serverBits are the agreed window sizes (0: 15).
	clientBits, serverBits int
	// answer is the header as the server sent it.
	answer string
}

// parseDeflateAnswer reads the server's extension answer.
func parseDeflateAnswer(h string) (deflateParams, error) {
	p := deflateParams{answer: h}
	if strings.TrimSpace(h) == "" {
		return p, nil
	}
	if strings.Contains(h, ",") {
		return p, fmt.Errorf("server accepted more than one extension: %q", h)
	}
	fields := strings.Split(h, ";")
	if strings.TrimSpace(fields[0]) != "permessage-deflate" {
		return p, fmt.Errorf("server accepted an extension not offered: %q", h)
	}
	p.on = true
	for _, f := range fields[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(f), "=")
		bits := func() (int, error) {
			n, err := strconv.Atoi(strings.Trim(val, `"`))
			if err != nil || n < 8 || n > 15 {
				return 0, fmt.Errorf("bad %s in %q", name, h)
			}
			return n, nil
		}
		var err error
		switch name {
		case "client_no_context_takeover":
			p.clientNoContext = true
		case "server_no_context_takeover":
			p.serverNoContext = true
		case "client_max_window_bits":
			p.clientBits, err = bits()
		case "server_max_window_bits":
			p.serverBits, err = bits()
		default:
			err = fmt.Errorf("unknown parameter %q in %q", name, h)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// oneByteReader hands out one byte per Read, so that a bufio.Reader over
// it never reads past the handshake response into the first frames.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// dialDeflate connects to addr and sends the opening handshake for path
// with offer as its Sec-WebSocket-Extensions header, and returns the raw
// connection and what the server agreed.
func dialDeflate(addr, path, offer string) (*rawws.Conn, deflateParams, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, deflateParams{}, err
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	req, key := rawws.Request(addr, path, http.Header{"Sec-WebSocket-Extensions": {offer}})
	if _, err := nc.Write(req); err != nil {
		nc.Close()
		return nil, deflateParams{}, err
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(oneByteReader{nc}, 16), nil)
	if err != nil {
		nc.Close()
		return nil, deflateParams{}, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, deflateParams{}, fmt.Errorf("handshake answered %s", res.Status)
	}
	if res.Header.Get("Sec-WebSocket-Accept") != rawws.AcceptKey(key) {
		nc.Close()
		return nil, deflateParams{}, fmt.Errorf("Sec-WebSocket-Accept does not answer the key")
	}
	p, err := parseDeflateAnswer(strings.Join(res.Header.Values("Sec-WebSocket-Extensions"), ", "))
	if err != nil {
		nc.Close()
		return nil, p, err
	}
	_ = nc.SetDeadline(time.Time{})
	return rawws.NewConn(nc), p, nil
}

// dialOffer connects a raw client to the lobby, with offer as its
// extension offer when set, and waits until its route handler has joined.
func (s *abuseServer) dialOffer(t *testing.T, offer string) (*rawws.Conn, deflateParams) {
	t.Helper()
	if offer == "" {
		return s.dial(t), deflateParams{}
	}
	before := s.hub.Stats().Accepted
	c, p, err := dialDeflate(s.addr, "/ws/lobby", offer)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the route handler to run", func() bool {
		return s.hub.Stats().Accepted > before && len(s.hub.Rooms()) >= int(s.hub.Stats().Accepted-before)
	})
	return c, p
}

// deflateTail is what a sender strips from the end of a compressed
// message (RFC 7692 section 7.2.1) and the receiver appends again.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// deflater compresses the client's messages.
type deflater struct {
	takeover bool
	buf      bytes.Buffer
	w        *flate.Writer
}

// newDeflater returns a compressor that keeps its window across messages
// when takeover is set. A window under 15 bits cannot be asked of
// compress/flate, so for those it emits Huffman codes only: no
// back-references at all, which any window size decodes.
func newDeflater(takeover bool, windowBits int) *deflater {
	level := flate.BestSpeed
	if windowBits > 0 && windowBits < 15 {
		level = flate.HuffmanOnly
	}
	d := &deflater{takeover: takeover}
	d.w, _ = flate.NewWriter(&d.buf, level)
	return d
}

// compress returns the payload of a compressed message carrying msg.
func (d *deflater) compress(msg []byte) []byte {
	d.buf.Reset()
	if !d.takeover {
		d.w.Reset(&d.buf)
	}
	_, _ = d.w.Write(msg)
	_ = d.w.Flush()
	out := bytes.TrimSuffix(d.buf.Bytes(), deflateTail)
	return append([]byte(nil), out...)
}

// compressedFrames returns the frames of one compressed message of opcode
// op: RSV1 on the first frame only, the payload split in frames of size
// bytes (0: one frame).
func compressedFrames(op byte, payload []byte, size int) []rawws.Frame {
	if size <= 0 {
		size = max(len(payload), 1)
	}
	fs := rawws.Fragments(op, payload, size)
	fs[0].Rsv = 4
	return fs
}

// inflater decompresses the server's messages, keeping the last 32 KiB
// as the dictionary of the next one when the server keeps its context.
type inflater struct {
	takeover bool
	dict     []byte
}

func newInflater(takeover bool) *inflater { return &inflater{takeover: takeover} }

func (f *inflater) inflate(p []byte) ([]byte, error) {
	// The stripped tail, then an empty final stored block, so the reader
	// ends with io.EOF.
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail), bytes.NewReader([]byte{0x01, 0x00, 0x00, 0xff, 0xff}))
	var r io.ReadCloser
	if f.takeover {
		r = flate.NewReaderDict(src, f.dict)
	} else {
		r = flate.NewReader(src)
	}
	out, err := io.ReadAll(r)
	if f.takeover {
		f.dict = append(f.dict, out...)
		if n := len(f.dict); n > 32<<10 {
			f.dict = append([]byte(nil), f.dict[n-32<<10:]...)
		}
	}
	return out, err
}
