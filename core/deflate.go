package core

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// permessage-deflate (RFC 7692) as gorilla negotiates it: no context
// takeover in either direction, so every message is compressed and
// inflated on its own and nothing is kept between messages.

// deflateTail ends every compressed message on the wire, removed by the
// sender (RFC 7692 section 7.2.1); inflate puts it back, followed by an
// empty final block so the decompressor reports the end.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflaterPool holds decompressors; they are large, and only a connection
// inflating a message holds one.
var inflaterPool sync.Pool

// errInflate reports compressed data that is corrupt; errInflatedTooBig a
// message over the read limit once inflated.
var (
	errInflate        = errors.New("rushws: invalid compressed data")
	errInflatedTooBig = errors.New("rushws: message too big once inflated")
)

// inflate decompresses a message for c; on failure the connection has been
// closed (1007 for corrupt data, 1009 over ReadLimit) and the error says
// why.
func (c *Conn) inflate(data []byte) (*[]byte, error) {
	out, err := inflateMessage(data, c.hub.cfg.ReadLimit)
	if err != nil {
		c.hub.stats.errors.Add(1)
		if err == errInflatedTooBig {
			c.abort(CloseTooBig, "message too big", true)
		} else {
			c.abort(CloseInvalidPayload, "invalid compressed data", true)
		}
	}
	return out, err
}

// inflateMessage decompresses one message into a pooled buffer, refusing
// more than limit bytes of output.
func inflateMessage(data []byte, limit int64) (*[]byte, error) {
	if len(data) == 0 {
		// Not deflate data once the tail is added, but clearly an empty
		// message: accepted as one, as browsers and gorilla's peers expect.
		return getReadBuf(), nil
	}
	src := io.MultiReader(bytes.NewReader(data), bytes.NewReader(deflateTail))
	fr, _ := inflaterPool.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else {
		_ = fr.(flate.Resetter).Reset(src, nil)
	}
	defer inflaterPool.Put(fr)
	out := getReadBuf()
	buf, err := readMessage(fr, *out, limit)
	*out = buf
	switch {
	case err != nil:
		putReadBuf(out)
		return nil, errInflate
	case int64(len(buf)) > limit:
		putReadBuf(out)
		return nil, errInflatedTooBig
	}
	return out, nil
}

// readMessage appends what r yields to buf, up to limit+1 bytes (one more
// than allowed, so the caller can tell a message over the limit).
func readMessage(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, nil
			}
			grow := min(int64(max(cap(buf), 512)), limit+1-int64(len(buf)))
			buf = append(buf, make([]byte, grow)...)[:len(buf)]
		}
		room := buf[len(buf):cap(buf)]
		if int64(len(buf)+len(room)) > limit+1 {
			room = room[:limit+1-int64(len(buf))]
		}
		n, err := r.Read(room)
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if int64(len(buf)) > limit {
			return buf, nil
		}
	}
}

// deflaterPool holds compressors at the speed gorilla used (level 1).
var deflaterPool = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// compressed returns o framed as a compressed message (RSV1 set). Control
// frames are returned as they are.
func compressed(o outbound) outbound {
	if !o.isData() {
		return o
	}
	var b bytes.Buffer
	b.Grow(maxHeader + o.n/2 + 16)
	b.Write(make([]byte, maxHeader))
	w := deflaterPool.Get().(*flate.Writer)
	w.Reset(&b)
	_, _ = w.Write(o.payload())
	_ = w.Flush()
	deflaterPool.Put(w)
	fb := frameBuf(b.Bytes())
	if n := len(fb); n >= maxHeader+4 && bytes.Equal(fb[n-4:], deflateTail[:4]) {
		fb = fb[:n-4]
	}
	out := sealedOut(fb, o.op)
	out.frame[0] |= rsv1Bit
	out.n = o.n
	return out
}
