package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/rushws/rushws/core"
)

// An independent client implementation (github.com/coder/websocket) reads
// what the writer frames itself, batched many to a write, with and without
// permessage-deflate: every message whole and in order, small and large,
// text and binary, and pings answered.
func TestInteropCoderWebsocket(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		mode cws.CompressionMode
	}{{"plain", cws.CompressionDisabled}, {"deflate", cws.CompressionContextTakeover}} {
		t.Run(tt.name, func(t *testing.T) {
			// The burst below is about 6 MB, sent at once: a queue that
			// holds it keeps this test about framing, not about policy.
			s := newServer(t, core.Config{EnableCompression: tt.mode != cws.CompressionDisabled, SendQueueBytes: 16 << 20}, chat)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, _, err := cws.Dial(ctx, s.url("lobby"), &cws.DialOptions{CompressionMode: tt.mode})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			c.SetReadLimit(1 << 20)
			eventually(t, "the member", func() bool { r, _ := s.hub.Room("lobby"); return r.Members == 1 })

			const n = 300
			sizes := []int{0, 10, 125, 126, 4000, 65535, 70000}
			go func() {
				for i := range n {
					pad := strings.Repeat("z", sizes[i%len(sizes)])
					if i%5 == 4 {
						_, _ = s.hub.To("lobby").SendBinary([]byte(fmt.Sprintf("%d:%s", i, pad)))
						continue
					}
					_, _ = s.hub.To("lobby").Emit("news", map[string]any{"i": i, "pad": pad})
				}
			}()
			for i := range n {
				typ, data, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				pad := strings.Repeat("z", sizes[i%len(sizes)])
				if i%5 == 4 {
					if typ != cws.MessageBinary || string(data) != fmt.Sprintf("%d:%s", i, pad) {
						t.Fatalf("message %d: binary frame wrong (%d bytes)", i, len(data))
					}
					continue
				}
				var env struct {
					Event string
					Data  struct {
						I   int
						Pad string
					}
				}
				if typ != cws.MessageText || json.Unmarshal(data, &env) != nil || env.Data.I != i || env.Data.Pad != pad {
					t.Fatalf("message %d: text frame wrong (%d bytes)", i, len(data))
				}
			}
			// Ping needs a concurrent reader to see the pong.
			readErr := make(chan error, 1)
			go func() {
				_, _, err := c.Read(ctx)
				readErr <- err
			}()
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			if err := c.Close(cws.StatusNormalClosure, "bye"); err != nil {
				t.Fatalf("close: %v", err)
			}
			<-readErr
			eventually(t, "the connection to end", func() bool { return s.hub.Stats().Connections == 0 })
		})
	}
}
