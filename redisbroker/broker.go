package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/core"
)

// Errors returned by the broker. Compare with errors.Is.
var (
	// ErrClosed is returned by Publish and Start after Close.
	ErrClosed = errors.New("redisbroker: broker closed")
	// ErrNotStarted is returned by Publish before Start: the broker does
	// not know its hub yet.
	ErrNotStarted = errors.New("redisbroker: broker not started by a hub")
	// ErrPublishTimeout is returned by Publish when the publish queue stayed
	// full until the message's deadline (Redis is slow or unreachable).
	ErrPublishTimeout = errors.New("redisbroker: publish timed out")
	// ErrQueueFull is returned by Publish when the messages waiting for
	// Redis already hold Config.PublishQueueBytes.
	ErrQueueFull = errors.New("redisbroker: publish queue full")
	// ErrInvalidTarget is returned by Publish for a message with no target,
	// an invalid room name, or a connection ID that names no hub.
	ErrInvalidTarget = errors.New("redisbroker: invalid target")
)

// Broker is a core.Broker on Redis pub/sub: pass it in core.Config.Broker
// and hubs in different processes share rooms, broadcasts and direct sends.
// One Broker serves one hub.
//
// Each hub holds one subscriber connection (in a Redis Cluster, one more
// per hash slot its rooms use) subscribed to the everyone channel, its own
// hub channel, and the channel of every room with local members. Each
// message is published once, whatever the room size: a room's message to
// the room's channel; a message for everyone or for several rooms to the
// everyone channel, carrying the room list, so each hub delivers it once to
// every local member of any listed room; a direct send to the channel of
// the hub that holds the connection.
//
// Delivery is at most once. Messages published while Redis is unreachable,
// or while a hub's subscriber is reconnecting, are lost for the hubs
// concerned, and counted: PublishErrors on the publishing side,
// Resubscribes and LastError on the receiving side.
//
// All methods are safe for concurrent use.
type Broker struct {
	client  redis.UniversalClient
	cluster *redis.ClusterClient // nil unless client is a cluster client
	cfg     Config
	log     *slog.Logger
	ch      *channels

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
	hubID   string
	hubCh   string
	deliver func(core.BrokerMessage)

	pubq      chan pubItem
	pubBytes  atomic.Int64 // payload bytes in pubq and in the batch being sent
	recvq     chan inbound
	recvBytes atomic.Int64 // payload bytes in recvq and being delivered

	// Subscriptions: Subscribe and Unsubscribe record the wanted state of
	// a room in pending and wake the manager goroutine, which applies the
	// changes in batches.
	subMu   sync.Mutex
	pending map[string]bool
	wake    chan struct{}
	main    *sub   // everyone and hub channels; rooms unless in a cluster
	buckets []*sub // cluster only: sharded room channels by slot bucket; manager-owned
	active  map[string]bool

	published     atomic.Uint64
	received      atomic.Uint64
	publishErrors atomic.Uint64
	drops         atomic.Uint64
	resubscribes  atomic.Uint64
	malformed     atomic.Uint64
	pubFailing    atomic.Bool // a publish error was logged; reset by a success

	errMu     sync.Mutex
	lastErr   string
	lastErrAt time.Time

	presence presence

	kept keptStore // recovery (history.go); nil until StartRecovery

	idle time.Duration // silence before a subscriber pings; idlePing, shorter in tests
}

// pubItem is one encoded message waiting for the publisher goroutine.
type pubItem struct {
	channel  string
	sharded  bool
	payload  []byte
	deadline time.Time
	kept     *keptItem // a message for the append script (history.go), nil for a plain PUBLISH
}

// inbound is one received message waiting for delivery.
type inbound struct {
	m    core.BrokerMessage
	kept bool // appended by the script: delivered through the recovery side
}

// New returns a broker on the user's Redis client: a *redis.Client
// (standalone, or Sentinel from redis.NewFailoverClient) or a
// *redis.ClusterClient, as redis.NewUniversalClient makes them. The broker
// does not own the client: Close leaves it open.
//
// New checks cfg, connects and sends a PING; it returns an error when Redis
// cannot be reached or does not answer within cfg.StartTimeout, unless
// cfg.AllowUnavailable is set (the hub then starts local-only). The error
// says what failed, the address, and how long it took. It starts no
// goroutine: the hub's Start does.
func New(client redis.UniversalClient, cfg Config) (*Broker, error) {
	if client == nil {
		return nil, errors.New("redisbroker: New needs a Redis client, got nil")
	}
	if _, ok := client.(*redis.Ring); ok {
		return nil, errors.New("redisbroker: a *redis.Ring client is not supported (its pub/sub channels hash to different shards); use a Client, a FailoverClient or a ClusterClient")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cluster, _ := client.(*redis.ClusterClient)
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		client:  client,
		cluster: cluster,
		cfg:     cfg,
		log:     cfg.Logger,
		ch:      newChannels(cfg.Prefix, cluster != nil, cfg.ClusterSlots),
		ctx:     ctx,
		cancel:  cancel,
		pubq:    make(chan pubItem, cfg.PublishQueue),
		recvq:   make(chan inbound, cfg.ReceiveBuffer),
		pending: make(map[string]bool),
		wake:    make(chan struct{}, 1),
		active:  make(map[string]bool),
		idle:    idlePing,
	}
	if cluster != nil {
		b.buckets = make([]*sub, cfg.ClusterSlots)
	}
	pctx, pcancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer pcancel()
	start := time.Now()
	if err := probe(pctx, client); err != nil {
		err = startFailure(client, cfg, err, time.Since(start))
		if !cfg.AllowUnavailable {
			cancel()
			return nil, err
		}
		b.setErr(err)
		b.log.Warn("redisbroker: Redis unavailable at start; the hub is local until it answers", "err", err)
	}
	return b, nil
}

// Start links the broker to its hub; core.NewHub calls it. It subscribes
// to the everyone and hub channels and waits, up to Config.StartTimeout,
// until Redis confirms, so that a hub is reachable once NewHub returns.
// With Config.AllowUnavailable it returns at once when Redis does not
// answer and keeps trying in the background.
func (b *Broker) Start(hubID string, deliver func(core.BrokerMessage)) error {
	if !validHubID(hubID) {
		return fmt.Errorf("redisbroker: hub ID %q is not 1 to 64 bytes of base64url", cut(hubID))
	}
	if deliver == nil {
		return errors.New("redisbroker: Start needs a deliver function, got nil")
	}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return ErrClosed
	case b.started:
		b.mu.Unlock()
		return fmt.Errorf("redisbroker: broker already started by hub %q; use one Broker per hub", b.hubID)
	}
	b.started = true
	b.hubID = hubID
	b.hubCh = b.ch.hub(hubID)
	b.deliver = deliver
	b.main = b.newSub(-1)
	b.mu.Unlock()

	b.main.want(b.ch.all, b.hubCh)
	err := b.main.subscribe(b.ch.all, b.hubCh)
	b.main.start()
	b.wg.Add(3)
	go b.manage()
	go b.publishLoop()
	go b.deliverLoop()
	if err == nil {
		err = b.main.waitUp(b.cfg.StartTimeout)
	}
	if err != nil {
		err = fmt.Errorf("redisbroker: subscribing to %q: %w", b.ch.all, err)
		b.setErr(err)
		if !b.cfg.AllowUnavailable {
			_ = b.Close()
			return err
		}
		b.log.Warn("redisbroker: subscriber not connected; the hub is local until Redis answers", "err", err)
	}
	return nil
}

// Publish sends m to the other hubs: it encodes m once and queues it for
// the publisher goroutine, which hands it to Redis with one PUBLISH (or
// SPUBLISH). It waits for room in the queue at most until the earlier of
// ctx's deadline and Config.PublishTimeout, so it never holds a read loop
// longer. A nil error means the message was queued; a later failure is
// counted in PublishErrors and reported in LastError.
func (b *Broker) Publish(ctx context.Context, m core.BrokerMessage) error {
	b.mu.Lock()
	closed, started, hubID := b.closed, b.started, b.hubID
	b.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case !started:
		return ErrNotStarted
	}
	if m.Hub == "" {
		m.Hub = hubID
	}
	it := pubItem{channel: b.ch.all}
	switch {
	case m.All:
		for _, r := range m.Rooms {
			if !core.ValidRoomName(r) {
				return fmt.Errorf("%w: room %q", ErrInvalidTarget, cut(r))
			}
		}
	case m.Conn != "":
		h := core.HubOf(m.Conn)
		if !validHubID(h) {
			return fmt.Errorf("%w: connection ID %q names no hub", ErrInvalidTarget, cut(m.Conn))
		}
		it.channel = b.ch.hub(h)
	case len(m.Rooms) == 1:
		if !core.ValidRoomName(m.Rooms[0]) {
			return fmt.Errorf("%w: room %q", ErrInvalidTarget, cut(m.Rooms[0]))
		}
		var bucket int
		it.channel, bucket = b.ch.room(m.Rooms[0])
		it.sharded = bucket >= 0
	case len(m.Rooms) > 1:
		// One publish on the everyone channel with the room list: each hub
		// delivers once to each local member of any listed room.
		for _, r := range m.Rooms {
			if !core.ValidRoomName(r) {
				return fmt.Errorf("%w: room %q", ErrInvalidTarget, cut(r))
			}
		}
	default:
		return fmt.Errorf("%w: no room, no connection and not everyone", ErrInvalidTarget)
	}
	for _, r := range m.ExceptRooms {
		if !core.ValidRoomName(r) {
			return fmt.Errorf("%w: excluded room %q", ErrInvalidTarget, cut(r))
		}
	}
	if m.CloseCode != 0 && (m.CloseCode < 1000 || m.CloseCode > 4999) {
		return fmt.Errorf("redisbroker: close code %d is not 1000 to 4999", m.CloseCode)
	}
	it.payload = encode(make([]byte, 0, encodedSize(&m)), &m)
	return b.enqueue(ctx, it)
}

// enqueue queues it for the publisher goroutine, waiting for room at most
// until the earlier of ctx's deadline and Config.PublishTimeout.
func (b *Broker) enqueue(ctx context.Context, it pubItem) error {
	it.deadline = time.Now().Add(b.cfg.PublishTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(it.deadline) {
		it.deadline = d
	}
	size := int64(len(it.payload))
	if b.pubBytes.Add(size) > int64(b.cfg.PublishQueueBytes) {
		b.pubBytes.Add(-size)
		err := fmt.Errorf("%w: %d bytes waiting for Redis", ErrQueueFull, b.cfg.PublishQueueBytes)
		b.publishFailed(1, err)
		return err
	}
	select {
	case b.pubq <- it:
		return nil
	default:
	}
	t := time.NewTimer(time.Until(it.deadline))
	defer t.Stop()
	var err error
	select {
	case b.pubq <- it:
		return nil
	case <-t.C:
		err = fmt.Errorf("%w: the publish queue stayed full for %v", ErrPublishTimeout, b.cfg.PublishTimeout)
		b.publishFailed(1, err)
	case <-ctx.Done():
		err = ctx.Err()
		b.publishFailed(1, err)
	case <-b.ctx.Done():
		err = ErrClosed
	}
	b.pubBytes.Add(-size)
	return err
}

// Subscribe asks for the room's channel: the hub calls it when the room
// gets its first local member. It never blocks; the subscription is sent
// in a batch with other pending changes. Subscribing twice is harmless.
func (b *Broker) Subscribe(room string) { b.setWanted(room, true) }

// Unsubscribe drops the room's channel: the hub calls it when the room's
// last local member leaves. It never blocks.
func (b *Broker) Unsubscribe(room string) { b.setWanted(room, false) }

func (b *Broker) setWanted(room string, want bool) {
	if !core.ValidRoomName(room) {
		b.log.Warn("redisbroker: invalid room name not subscribed", "room", cut(room))
		return
	}
	b.subMu.Lock()
	b.pending[room] = want
	b.subMu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Stats returns the broker's counters. Subscriptions counts the room
// channels Redis has confirmed; it drops to 0 while the subscriber is
// disconnected.
func (b *Broker) Stats() core.BrokerStats {
	s := core.BrokerStats{
		Published:     b.published.Load(),
		Received:      b.received.Load(),
		PublishErrors: b.publishErrors.Load(),
		Drops:         b.drops.Load(),
		Resubscribes:  b.resubscribes.Load(),
	}
	s.Connected = true
	for _, sb := range b.subs() {
		up, n := sb.state()
		s.Connected = s.Connected && up
		s.Subscriptions += n
	}
	b.mu.Lock()
	if !b.started {
		s.Connected = false
	}
	b.mu.Unlock()
	b.errMu.Lock()
	s.LastError, s.LastErrorAt = b.lastErr, b.lastErrAt
	b.errMu.Unlock()
	return s
}

// Malformed counts messages on the broker's channels that could not be
// decoded (written by something other than a rushws hub); they were
// dropped.
func (b *Broker) Malformed() uint64 { return b.malformed.Load() }

// Healthy reports whether the broker can carry messages now: Redis answers
// a PING within ctx (and Config.PublishTimeout) and the subscriber is
// connected. Use it in a readiness probe.
func (b *Broker) Healthy(ctx context.Context) error {
	b.mu.Lock()
	closed, started := b.closed, b.started
	b.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case !started:
		return ErrNotStarted
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.client.Ping(ctx).Err() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// The PING goes on in the background until the client's own
		// timeout; the probe answers now.
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("redisbroker: Redis did not answer PING: %w", err)
	}
	for _, sb := range b.subs() {
		if up, _ := sb.state(); !up {
			return fmt.Errorf("redisbroker: subscriber %s not connected", sb.name)
		}
	}
	return nil
}

// Close stops the broker's goroutines and closes its subscriber
// connections, which drops its subscriptions. It leaves the Redis client
// open. Messages still queued for publishing are dropped; a Redis call in
// flight is waited for, within the client's own timeouts. Close is safe to
// call twice.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	for _, sb := range b.subs() {
		sb.close()
	}
	b.wg.Wait()
	b.presence.stop(b)
	return nil
}

// subs returns the subscriber connections that exist now.
func (b *Broker) subs() []*sub {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	var out []*sub
	if b.main != nil {
		out = append(out, b.main)
	}
	for _, s := range b.buckets {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// setErr records err as the broker's last error.
func (b *Broker) setErr(err error) {
	b.errMu.Lock()
	b.lastErr = err.Error()
	b.lastErrAt = time.Now()
	b.errMu.Unlock()
}

// publishFailed counts n messages that reached no other hub.
func (b *Broker) publishFailed(n int, err error) {
	b.publishErrors.Add(uint64(n))
	b.setErr(fmt.Errorf("redisbroker: publish: %w", err))
	if !b.pubFailing.Swap(true) {
		b.log.Warn("redisbroker: publish failed; messages to other hubs are being lost", "err", err)
	}
}

// deliverLoop hands received messages to the hub, one at a time, in the
// order they arrived.
func (b *Broker) deliverLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case in := <-b.recvq:
			b.deliverOne(in)
			b.recvBytes.Add(-int64(len(in.m.Data)))
		}
	}
}

func (b *Broker) deliverOne(in inbound) {
	defer func() {
		if r := recover(); r != nil {
			b.setErr(fmt.Errorf("redisbroker: deliver panicked: %v", r))
			b.log.Error("redisbroker: the hub's deliver function panicked", "panic", r)
		}
	}()
	if in.kept {
		if ks := b.kept.Load(); ks != nil {
			ks.deliver(keptOf(in.m))
			return
		}
		if in.m.Hub == b.hubID {
			return
		}
	}
	b.deliver(in.m)
}

// keptOf is the kept message a hub's recovery side gets for a message the
// append script published.
func keptOf(m core.BrokerMessage) core.KeptMessage {
	k := core.KeptMessage{Hub: m.Hub, Except: m.Except, ExceptRooms: m.ExceptRooms, Data: m.Data, Kept: true}
	switch {
	case m.Conn != "":
		k.Streams = []string{core.ConnStream(m.Conn)}
	case m.All:
		k.Streams = []string{core.StreamAll}
	default:
		for _, r := range m.Rooms {
			k.Streams = append(k.Streams, core.RoomStream(r))
		}
	}
	return k
}

// receive decodes one message from Redis and queues it for delivery
// without ever waiting: a full buffer drops it. It runs on the subscriber's
// read loop.
func (b *Broker) receive(msg *redis.Message) {
	payload := []byte(msg.Payload)
	kept := len(payload) > 1 && payload[1]&flagKept != 0
	m, err := decode(payload)
	if err == nil && kept && (m.Binary || m.CloseCode != 0) {
		err = fmt.Errorf("%w: a kept message is an event", errMalformed)
	}
	if err != nil {
		if b.malformed.Add(1) == 1 {
			b.log.Warn("redisbroker: dropped a malformed message", "channel", cut(msg.Channel), "err", err)
		}
		b.setErr(fmt.Errorf("%w on channel %q", err, cut(msg.Channel)))
		return
	}
	if m.Hub == b.hubID && !kept {
		return // our own message, delivered locally already (a kept one is not: see history.go)
	}
	b.received.Add(1)
	size := int64(len(m.Data))
	if b.recvBytes.Add(size) <= int64(b.cfg.ReceiveBufferBytes) {
		select {
		case b.recvq <- inbound{m: m, kept: kept}:
			return
		default:
		}
	}
	b.recvBytes.Add(-size)
	if b.drops.Add(1) == 1 {
		b.log.Warn("redisbroker: receive buffer full; dropping messages from other hubs", "messages", b.cfg.ReceiveBuffer, "bytes", b.cfg.ReceiveBufferBytes)
	}
}

// addrOf names the server(s) of a client for error messages.
func addrOf(client redis.UniversalClient) string {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return "cluster " + strings.Join(c.Options().Addrs, ",")
	}
	return fmt.Sprintf("%T", client)
}
