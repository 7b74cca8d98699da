package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// idlePing is how long a subscriber may hear nothing before it pings
	// Redis; a second silent period of the same length replaces its
	// connection (one that died without a FIN).
	idlePing = 5 * time.Second
	// maxBackoff caps the wait between reconnection attempts, so the
	// subscriber is back well within a second of Redis returning.
	maxBackoff = 100 * time.Millisecond
	// maxBatch caps the channels of one SUBSCRIBE or UNSUBSCRIBE.
	maxBatch = 1024
)

// sub is one subscriber connection (a go-redis PubSub) and its read loop.
// go-redis reconnects a PubSub after an error and resubscribes all its
// channels in one command per kind; sub watches that happen, counts it, and
// replaces a connection that went silent.
type sub struct {
	b       *Broker
	name    string // "main" or "slot n", for logs and errors
	sharded bool

	mu        sync.Mutex
	ps        *redis.PubSub
	channels  map[string]struct{} // wanted on this connection
	up        bool                // the last thing heard was a reply
	everUp    bool
	downAt    time.Time
	confirmed map[string]struct{} // room channels Redis confirmed
	upCh      chan struct{}       // closed the first time the sub is up
	closed    bool
	running   bool // the read loop was started
}

// newSub returns a subscriber: bucket -1 for the main connection, else the
// cluster slot bucket it carries.
func (b *Broker) newSub(bucket int) *sub {
	s := &sub{
		b:         b,
		name:      "main",
		sharded:   bucket >= 0,
		channels:  make(map[string]struct{}),
		confirmed: make(map[string]struct{}),
		upCh:      make(chan struct{}),
	}
	if bucket >= 0 {
		s.name = "slot " + strconv.Itoa(bucket)
	}
	s.ps = s.newPubSub()
	return s
}

// newPubSub returns an empty PubSub; it connects on its first subscription.
func (s *sub) newPubSub() *redis.PubSub {
	if s.sharded {
		return s.b.cluster.SSubscribe(s.b.ctx)
	}
	return s.b.client.Subscribe(s.b.ctx)
}

// want records channels this connection must carry, so a replacement
// connection subscribes them all at once.
func (s *sub) want(chans ...string) {
	s.mu.Lock()
	for _, c := range chans {
		s.channels[c] = struct{}{}
	}
	s.mu.Unlock()
}

func (s *sub) unwant(chans ...string) {
	s.mu.Lock()
	for _, c := range chans {
		delete(s.channels, c)
	}
	s.mu.Unlock()
}

func (s *sub) pubsub() *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps
}

// subscribe sends one SUBSCRIBE (SSUBSCRIBE in a cluster) per maxBatch
// channels.
func (s *sub) subscribe(chans ...string) error {
	ps := s.pubsub()
	for c := range slices.Chunk(chans, maxBatch) {
		var err error
		if s.sharded {
			err = ps.SSubscribe(s.b.ctx, c...)
		} else {
			err = ps.Subscribe(s.b.ctx, c...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *sub) unsubscribe(chans ...string) error {
	ps := s.pubsub()
	for c := range slices.Chunk(chans, maxBatch) {
		var err error
		if s.sharded {
			err = ps.SUnsubscribe(s.b.ctx, c...)
		} else {
			err = ps.Unsubscribe(s.b.ctx, c...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// run is the read loop: it never waits on anything but Redis, so a full
// delivery buffer drops messages instead of stalling the connection.
func (s *sub) run() {
	defer s.b.wg.Done()
	ctx := s.b.ctx
	var backoff time.Duration
	pinged := false
	for {
		ps := s.pubsub()
		msg, err := ps.ReceiveTimeout(ctx, s.b.idle)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) && s.isUp() {
				if pinged {
					s.setDown(errors.New("no reply to PING"))
					s.replace(ps)
					pinged = false
					continue
				}
				pinged = true
				if err := ps.Ping(ctx); err != nil {
					s.setDown(err)
				}
				continue
			}
			var rerr redis.Error
			if s.sharded && errors.As(err, &rerr) {
				// A refused SSUBSCRIBE (MOVED after a resharding): learn
				// the new slot owners and subscribe there.
				s.setDown(err)
				s.b.cluster.ReloadState(ctx)
				backoff = min(max(2*backoff, 10*time.Millisecond), maxBackoff)
				if !sleep(ctx, backoff) {
					return
				}
				s.replace(ps)
				continue
			}
			// go-redis has dropped the connection and dials again on the
			// next receive, resubscribing everything in one batch.
			s.setDown(err)
			backoff = min(max(2*backoff, 10*time.Millisecond), maxBackoff)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if s.moved(m) {
				// Redis dropped a channel this connection still wants: its
				// slot moved to another shard (cluster resharding).
				s.setDown(fmt.Errorf("channel %q left the shard (slot moved)", cut(m.Channel)))
				s.b.cluster.ReloadState(ctx)
				if !sleep(ctx, maxBackoff) {
					return
				}
				s.replace(ps)
				continue
			}
			backoff = 0
			s.confirm(m)
		case *redis.Pong:
			backoff = 0
			s.setUp()
		case *redis.Message:
			backoff = 0
			s.setUp()
			s.b.receive(m)
		}
	}
}

// sleep waits d, or returns false when the broker closes.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// moved reports whether m is Redis unsubscribing a shard channel that this
// sub still wants, which it does when the channel's slot leaves the shard.
func (s *sub) moved(m *redis.Subscription) bool {
	if !s.sharded || m.Kind != "sunsubscribe" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, wanted := s.channels[m.Channel]
	return wanted
}

// replace swaps a silent connection for a new one subscribed, in one
// batch, to every channel this sub carries.
func (s *sub) replace(old *redis.PubSub) {
	s.mu.Lock()
	if s.closed || s.ps != old {
		s.mu.Unlock()
		return
	}
	s.ps = s.newPubSub()
	chans := make([]string, 0, len(s.channels))
	for c := range s.channels {
		chans = append(chans, c)
	}
	s.mu.Unlock()
	_ = old.Close()
	if err := s.subscribe(chans...); err != nil {
		s.setDown(err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *sub) confirm(m *redis.Subscription) {
	s.setUp()
	if m.Channel == s.b.ch.all || m.Channel == s.b.hubCh {
		return
	}
	s.mu.Lock()
	switch m.Kind {
	case "subscribe", "ssubscribe":
		s.confirmed[m.Channel] = struct{}{}
	case "unsubscribe", "sunsubscribe":
		delete(s.confirmed, m.Channel)
	}
	s.mu.Unlock()
}

func (s *sub) isUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

// state returns whether the sub is connected and how many room channels
// Redis has confirmed on it.
func (s *sub) state() (up bool, rooms int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up, len(s.confirmed)
}

func (s *sub) setUp() {
	s.mu.Lock()
	if s.up {
		s.mu.Unlock()
		return
	}
	s.up = true
	again := s.everUp
	gap := time.Since(s.downAt)
	if !s.everUp {
		s.everUp = true
		close(s.upCh)
	}
	s.mu.Unlock()
	if again {
		s.b.resubscribes.Add(1)
		s.b.log.Info("redisbroker: subscriber reconnected and resubscribed", "subscriber", s.name, "down", gap.Round(time.Millisecond))
	}
}

func (s *sub) setDown(err error) {
	s.b.setErr(fmt.Errorf("redisbroker: subscriber %s: %w", s.name, err))
	s.mu.Lock()
	if !s.up {
		s.mu.Unlock()
		return
	}
	s.up = false
	s.downAt = time.Now()
	clear(s.confirmed)
	s.mu.Unlock()
	s.b.log.Warn("redisbroker: subscriber disconnected; messages from other hubs are lost until it is back", "subscriber", s.name, "err", err)
}

// waitUp waits until Redis has confirmed a subscription on this sub.
func (s *sub) waitUp(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.upCh:
		return nil
	case <-t.C:
		s.b.errMu.Lock()
		last := s.b.lastErr
		s.b.errMu.Unlock()
		if last != "" {
			return fmt.Errorf("no confirmation within %v (last error: %s)", timeout, last)
		}
		return fmt.Errorf("no confirmation within %v", timeout)
	case <-s.b.ctx.Done():
		return ErrClosed
	}
}

func (s *sub) close() {
	s.mu.Lock()
	s.closed = true
	ps := s.ps
	s.mu.Unlock()
	_ = ps.Close()
}

// manage applies pending Subscribe and Unsubscribe calls in batches: all
// the changes that piled up while the previous batch was being sent go out
// together, one command per kind and connection. A batch that fails is
// retried.
func (b *Broker) manage() {
	defer b.wg.Done()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var backoff time.Duration
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
		case <-retry.C:
		}
		b.subMu.Lock()
		batch := b.pending
		b.pending = make(map[string]bool)
		b.subMu.Unlock()
		failed := b.apply(batch)
		if len(failed) == 0 {
			backoff = 0
			continue
		}
		b.subMu.Lock()
		for room, want := range failed {
			if _, newer := b.pending[room]; !newer {
				b.pending[room] = want
			}
		}
		b.subMu.Unlock()
		backoff = min(max(2*backoff, 10*time.Millisecond), maxBackoff)
		retry.Reset(backoff)
	}
}

// apply sends one batch; it returns the changes that failed.
func (b *Broker) apply(batch map[string]bool) map[string]bool {
	type change struct {
		sub      *sub
		subRooms []string
		subChans []string
		unRooms  []string
		unChans  []string
	}
	changes := make(map[*sub]*change)
	for room, want := range batch {
		if b.active[room] == want {
			continue
		}
		ch, bucket := b.ch.room(room)
		s := b.subFor(bucket)
		if s == nil {
			return nil // closing
		}
		c := changes[s]
		if c == nil {
			c = &change{sub: s}
			changes[s] = c
		}
		if want {
			c.subRooms = append(c.subRooms, room)
			c.subChans = append(c.subChans, ch)
		} else {
			c.unRooms = append(c.unRooms, room)
			c.unChans = append(c.unChans, ch)
		}
	}
	failed := make(map[string]bool)
	for s, c := range changes {
		if len(c.unChans) > 0 {
			s.unwant(c.unChans...)
			if err := s.unsubscribe(c.unChans...); err != nil {
				s.b.setErr(fmt.Errorf("redisbroker: unsubscribing %d rooms: %w", len(c.unRooms), err))
				for _, r := range c.unRooms {
					failed[r] = false
				}
			} else {
				for _, r := range c.unRooms {
					delete(b.active, r)
				}
			}
		}
		if len(c.subChans) > 0 {
			s.want(c.subChans...)
			if err := s.subscribe(c.subChans...); err != nil {
				s.b.setErr(fmt.Errorf("redisbroker: subscribing %d rooms: %w", len(c.subRooms), err))
				for _, r := range c.subRooms {
					failed[r] = true
				}
			} else {
				for _, r := range c.subRooms {
					b.active[r] = true
				}
			}
			// A cluster slot's read loop starts after its first
			// subscription, which picks the shard it connects to.
			s.start()
		}
	}
	return failed
}

// subFor returns the sub carrying a room channel of the given bucket,
// creating a cluster slot's sub on first use; nil once the broker is
// closing.
func (b *Broker) subFor(bucket int) *sub {
	if bucket < 0 {
		return b.main
	}
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if b.ctx.Err() != nil {
		return nil
	}
	s := b.buckets[bucket]
	if s == nil {
		s = b.newSub(bucket)
		b.buckets[bucket] = s
	}
	return s
}

// start starts the read loop once. Only the manager goroutine, itself
// counted in b.wg, calls it, so the WaitGroup cannot be at zero.
func (s *sub) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || s.closed {
		return
	}
	s.running = true
	s.b.wg.Add(1)
	go s.run()
}
