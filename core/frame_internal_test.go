package core

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// pipeHijacker is a ResponseWriter whose Hijack hands gorilla one end of a
// pipe, so a test can read exactly the bytes gorilla writes.
type pipeHijacker struct {
	http.ResponseWriter
	conn net.Conn
}

func (p *pipeHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return p.conn, bufio.NewReadWriter(bufio.NewReader(p.conn), bufio.NewWriter(p.conn)), nil
}

// gorillaFrame returns the bytes gorilla writes for one server message.
func gorillaFrame(t *testing.T, mt int, payload []byte) []byte {
	t.Helper()
	server, client := net.Pipe()
	defer client.Close()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	got := make(chan []byte, 1)
	go func() {
		br := bufio.NewReader(client)
		res, err := http.ReadResponse(br, req)
		if err != nil {
			got <- nil
			return
		}
		res.Body.Close()
		b := make([]byte, headerLen(len(payload))+len(payload))
		_, _ = io.ReadFull(br, b)
		got <- b
	}()
	u := websocket.Upgrader{WriteBufferSize: 1 << 17}
	ws, err := u.Upgrade(&pipeHijacker{httptest.NewRecorder(), server}, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(mt, payload); err != nil {
		t.Fatal(err)
	}
	return <-got
}

// The writer's own framing is byte for byte what gorilla writes, at every
// length boundary of RFC 6455's three length encodings.
func TestFramesMatchGorilla(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 70000} {
		payload := []byte(strings.Repeat("x", n))
		for _, mt := range []int{TextMessage, BinaryMessage} {
			want := gorillaFrame(t, mt, payload)
			o, err := newShared(mt, payload)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(o.frame, want) {
				t.Fatalf("type %d, %d bytes: frame %x..., gorilla %x...", mt, n, o.frame[:min(12, len(o.frame))], want[:min(12, len(want))])
			}
			if !bytes.Equal(o.payload(), payload) || o.n != n {
				t.Fatalf("type %d, %d bytes: payload or size wrong", mt, n)
			}
			b := append(newFrameBuf(0), payload...)
			if sealed := sealedOut(b, opcodeOf(mt)); !bytes.Equal(sealed.frame, want) {
				t.Fatalf("type %d, %d bytes: sealed frame differs from gorilla's", mt, n)
			}
		}
	}
}
