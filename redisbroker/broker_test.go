package redisbroker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
)

// Hub IDs for broker-level tests; hubs make theirs at random.
const (
	hubA = "hubAAAAAAAA"
	hubB = "hubBBBBBBBB"
	hubC = "hubCCCCCCCC"
)

func TestBrokersCarryEveryTarget(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	cfg := redisbroker.Config{Prefix: uniquePrefix(t)}
	a, _ := startBroker(t, addr, hubA, cfg)
	b, recB := startBroker(t, addr, hubB, cfg)
	c, recC := startBroker(t, addr, hubC, cfg)
	b.Subscribe("lobby")
	b.Subscribe("café ☕ *?[]{x}") // any valid room name is safe on Redis
	c.Subscribe("other")
	waitSubscribed(t, b, 2)
	waitSubscribed(t, c, 1)

	binary := []byte{0, 1, 2, 0xff, 0xfe, '\n', 0}
	sends := []core.BrokerMessage{
		{Rooms: []string{"lobby"}, Data: []byte(`{"event":"chat","data":1}`), Except: []string{hubA + ".x"}},
		{Rooms: []string{"café ☕ *?[]{x}"}, Binary: true, Data: binary},
		{All: true, Data: []byte("to everyone")},
		{Rooms: []string{"lobby", "other"}, Data: []byte("two rooms"), ExceptRooms: []string{"muted"}},
		{Conn: hubB + ".someconn", Data: []byte("direct to B")},
		{Rooms: []string{"nobody-here"}, Data: []byte("lost on purpose")},
	}
	for _, m := range sends {
		if err := a.Publish(context.Background(), m); err != nil {
			t.Fatalf("publish %q: %v", m.Data, err)
		}
	}
	gotB := recB.waitLen(t, 5)
	gotC := recC.waitLen(t, 2)
	want := func(got []core.BrokerMessage, data ...string) {
		t.Helper()
		var have []string
		for _, m := range got {
			if m.Hub != hubA {
				t.Errorf("message %q from hub %q, want %q", m.Data, m.Hub, hubA)
			}
			have = append(have, string(m.Data))
		}
		if strings.Join(have, "|") != strings.Join(data, "|") {
			t.Errorf("got %q, want %q", have, data)
		}
	}
	want(gotB, `{"event":"chat","data":1}`, string(binary), "to everyone", "two rooms", "direct to B")
	want(gotC, "to everyone", "two rooms")
	if !gotB[1].Binary || !bytes.Equal(gotB[1].Data, binary) {
		t.Errorf("binary payload changed: %v %x", gotB[1].Binary, gotB[1].Data)
	}
	if got := gotB[0].Except; len(got) != 1 || got[0] != hubA+".x" {
		t.Errorf("Except = %q", got)
	}
	if got := gotB[3]; strings.Join(got.Rooms, ",") != "lobby,other" || strings.Join(got.ExceptRooms, ",") != "muted" {
		t.Errorf("multi-room message = %+v", got)
	}
	if gotB[4].Conn != hubB+".someconn" {
		t.Errorf("direct message Conn = %q", gotB[4].Conn)
	}
	fence(t, a, recB, recC) // nothing more may come
	if n := recB.len(); n != 5+1 {
		t.Errorf("B got %d messages before the fence, want 5", n-1)
	}
	if n := recC.len(); n != 2+1 {
		t.Errorf("C got %d messages before the fence, want 2", n-1)
	}
	if s := a.Stats(); s.Published != uint64(len(sends)+1) || s.PublishErrors != 0 || !s.Connected {
		t.Errorf("publisher stats = %+v (the fence included)", s)
	}
	if s := b.Stats(); s.Received != 5+1 || s.Drops != 0 || s.Subscriptions != 2 {
		t.Errorf("receiver stats = %+v", s)
	}
}

func TestOwnMessagesAreNotDeliveredBack(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	cfg := redisbroker.Config{Prefix: uniquePrefix(t)}
	a, recA := startBroker(t, addr, hubA, cfg)
	b, recB := startBroker(t, addr, hubB, cfg)
	a.Subscribe("r")
	b.Subscribe("r")
	waitSubscribed(t, a, 1)
	waitSubscribed(t, b, 1)
	for _, m := range []core.BrokerMessage{{Rooms: []string{"r"}, Data: []byte("1")}, {All: true, Data: []byte("2")}} {
		if err := a.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	recB.waitLen(t, 2)
	// B's fence reaches A after A's own messages would have.
	fence(t, b, recA)
	if n := recA.len() - 1; n != 0 {
		t.Errorf("publisher got %d of its own messages back", n)
	}
	if s := a.Stats(); s.Received != 1 {
		t.Errorf("publisher counted its own messages as received (want only the fence): %+v", s)
	}
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	cfg := redisbroker.Config{Prefix: uniquePrefix(t)}
	a, _ := startBroker(t, addr, hubA, cfg)
	b, recB := startBroker(t, addr, hubB, cfg)
	b.Subscribe("r")
	b.Subscribe("r") // idempotent
	waitSubscribed(t, b, 1)
	pub := func(s string) {
		if err := a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"r"}, Data: []byte(s)}); err != nil {
			t.Fatal(err)
		}
	}
	pub("before")
	recB.waitLen(t, 1)
	b.Unsubscribe("r")
	waitSubscribed(t, b, 0)
	pub("after")
	if err := a.Publish(context.Background(), core.BrokerMessage{All: true, Data: []byte("marker")}); err != nil {
		t.Fatal(err)
	}
	got := recB.waitLen(t, 2)
	if string(got[1].Data) != "marker" {
		t.Errorf("after Unsubscribe got %q", got[1].Data)
	}
}

func TestOrderPerPublisher(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	// A deadline long enough that a loaded machine loses nothing.
	cfg := redisbroker.Config{Prefix: uniquePrefix(t), PublishTimeout: 10 * time.Second}
	a, _ := startBroker(t, addr, hubA, cfg)
	c, _ := startBroker(t, addr, hubC, cfg)
	b, recB := startBroker(t, addr, hubB, cfg)
	b.Subscribe("r")
	waitSubscribed(t, b, 1)
	const n = 2000
	errs := make(chan error, 2)
	for _, p := range []*redisbroker.Broker{a, c} {
		go func() {
			for i := range n {
				// A mix of channels: order holds across them per publisher.
				m := core.BrokerMessage{Rooms: []string{"r"}, Data: fmt.Appendf(nil, "%d", i)}
				if i%3 == 0 {
					m = core.BrokerMessage{All: true, Data: m.Data}
				}
				if err := p.Publish(context.Background(), m); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := recB.waitLen(t, 2*n)
	next := map[string]int{}
	for _, m := range got {
		if want := fmt.Sprint(next[m.Hub]); string(m.Data) != want {
			t.Fatalf("from %s got %s, want %s", m.Hub, m.Data, want)
		}
		next[m.Hub]++
	}
	if s := b.Stats(); s.Drops != 0 {
		t.Errorf("drops: %+v", s)
	}
}

func TestPublishRefusesBadTargets(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	a, _ := startBroker(t, addr, hubA, redisbroker.Config{Prefix: uniquePrefix(t)})
	cases := []struct {
		name string
		m    core.BrokerMessage
	}{
		{"no target", core.BrokerMessage{Data: []byte("x")}},
		{"empty room", core.BrokerMessage{Rooms: []string{""}}},
		{"control character in room", core.BrokerMessage{Rooms: []string{"a\nb"}}},
		{"bad room among several", core.BrokerMessage{Rooms: []string{"ok", strings.Repeat("x", 257)}}},
		{"connection ID without hub", core.BrokerMessage{Conn: "nodot"}},
		{"connection ID with a glob hub", core.BrokerMessage{Conn: "h*b.x"}},
		{"bad excluded room", core.BrokerMessage{All: true, ExceptRooms: []string{"\x00"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Publish(context.Background(), tc.m)
			if !errors.Is(err, redisbroker.ErrInvalidTarget) {
				t.Fatalf("got %v, want ErrInvalidTarget", err)
			}
		})
	}
	if s := a.Stats(); s.Published != 0 || s.PublishErrors != 0 {
		t.Errorf("refused targets were counted: %+v", s)
	}
}

func TestLifecycleErrors(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	client := newClient(t, addr)
	b, err := redisbroker.New(client, redisbroker.Config{Prefix: uniquePrefix(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), core.BrokerMessage{All: true}); !errors.Is(err, redisbroker.ErrNotStarted) {
		t.Errorf("Publish before Start: %v", err)
	}
	if err := b.Start("bad id!", func(core.BrokerMessage) {}); err == nil || !strings.Contains(err.Error(), "bad id!") {
		t.Errorf("Start with a bad hub ID: %v", err)
	}
	if err := b.Start(hubA, func(core.BrokerMessage) {}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(hubB, func(core.BrokerMessage) {}); err == nil {
		t.Error("second Start succeeded")
	}
	if err := b.Healthy(context.Background()); err != nil {
		t.Errorf("Healthy: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Publish(context.Background(), core.BrokerMessage{All: true}); !errors.Is(err, redisbroker.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if err := b.Healthy(context.Background()); !errors.Is(err, redisbroker.ErrClosed) {
		t.Errorf("Healthy after Close: %v", err)
	}
	// The user's client stays open.
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Errorf("client closed by the broker: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	client := newClient(t, addr)
	cases := []struct {
		name string
		cfg  redisbroker.Config
		want string // in the error; "" for valid
	}{
		{"zero", redisbroker.Config{}, ""},
		{"prefix with glob", redisbroker.Config{Prefix: "app*"}, `"app*"`},
		{"prefix with bracket", redisbroker.Config{Prefix: "a[b"}, "Prefix"},
		{"prefix with hash tag", redisbroker.Config{Prefix: "{app}"}, "Prefix"},
		{"prefix with space", redisbroker.Config{Prefix: "my app"}, "Prefix"},
		{"long prefix", redisbroker.Config{Prefix: strings.Repeat("p", 65)}, "65 bytes"},
		{"negative timeout", redisbroker.Config{PublishTimeout: -1}, "PublishTimeout"},
		{"negative buffer", redisbroker.Config{ReceiveBuffer: -1}, "ReceiveBuffer"},
		{"too many slots", redisbroker.Config{ClusterSlots: 5000}, "ClusterSlots"},
		{"good prefix", redisbroker.Config{Prefix: "my-app_1.ws:v2"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := redisbroker.New(client, tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = b.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if _, err := redisbroker.New(nil, redisbroker.Config{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestMalformedMessagesAreDropped(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := uniquePrefix(t)
	b, rec := startBroker(t, addr, hubB, redisbroker.Config{Prefix: prefix})
	a, _ := startBroker(t, addr, hubA, redisbroker.Config{Prefix: prefix})
	raw := newClient(t, addr)
	for _, junk := range []string{"", "hello", "\xb1", "\xb1\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "\xb1\x00\x03abc\x05"} {
		if err := raw.Publish(context.Background(), prefix+":all", junk).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Publish(context.Background(), core.BrokerMessage{All: true, Data: []byte("good")}); err != nil {
		t.Fatal(err)
	}
	got := rec.waitLen(t, 1)
	if string(got[0].Data) != "good" {
		t.Errorf("got %q", got[0].Data)
	}
	if n := b.Malformed(); n != 5 {
		t.Errorf("Malformed = %d, want 5", n)
	}
	if s := b.Stats(); !strings.Contains(s.LastError, "malformed") {
		t.Errorf("LastError = %q", s.LastError)
	}
}
