package redisbroker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rushws/rushws/core"
)

// presence keeps this hub's room sizes in Redis: one hash per room, a
// field per hub holding "members:expiry-unix-ms", refreshed every third of
// Config.PresenceTTL. A hub that stops refreshing (crashed) ages out when
// its expiry passes; the whole key expires when every hub is gone.
type presence struct {
	on   bool
	last map[string]int // room -> members written last round; presence goroutine only
}

// TrackPresence starts publishing the sizes of the hub's rooms (the hub
// this broker serves) to Redis, so Presence can count a room's members on
// every hub. Sizes lag by up to a third of Config.PresenceTTL. Call it
// once, after core.NewHub.
func (b *Broker) TrackPresence(hub *core.Hub) error {
	if hub == nil {
		return errors.New("redisbroker: TrackPresence needs the hub, got nil")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case !b.started:
		return ErrNotStarted
	case b.presence.on:
		return errors.New("redisbroker: TrackPresence called twice")
	}
	b.presence.on = true
	b.presence.last = make(map[string]int)
	b.wg.Add(1)
	go b.presenceLoop(hub)
	return nil
}

func (b *Broker) presenceKey(room string) string {
	return b.cfg.Prefix + ":p:" + base64.RawURLEncoding.EncodeToString([]byte(room))
}

func (b *Broker) presenceLoop(hub *core.Hub) {
	defer b.wg.Done()
	every := b.cfg.PresenceTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		b.refreshPresence(hub)
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshPresence writes every local room's size with a fresh expiry and
// removes this hub's field from rooms it no longer holds, in one pipeline.
func (b *Broker) refreshPresence(hub *core.Hub) {
	now := make(map[string]int)
	for _, r := range hub.Rooms() {
		if r.Members > 0 {
			now[r.Name] = r.Members
		}
	}
	exp := time.Now().Add(b.cfg.PresenceTTL).UnixMilli()
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.PresenceTTL/3)
	defer cancel()
	pipe := b.client.Pipeline()
	for room, n := range now {
		key := b.presenceKey(room)
		pipe.HSet(ctx, key, b.hubID, strconv.Itoa(n)+":"+strconv.FormatInt(exp, 10))
		pipe.PExpire(ctx, key, 2*b.cfg.PresenceTTL)
	}
	for room := range b.presence.last {
		if _, ok := now[room]; !ok {
			pipe.HDel(ctx, b.presenceKey(room), b.hubID)
		}
	}
	if pipe.Len() == 0 {
		return
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.setErr(fmt.Errorf("redisbroker: presence refresh: %w", err))
		return // retried next round; expiries keep the old figures honest
	}
	b.presence.last = now
}

// stop removes this hub's presence fields, best effort, once the presence
// goroutine has exited: a hub that shuts down cleanly stops counting at
// once rather than after PresenceTTL.
func (p *presence) stop(b *Broker) {
	if !p.on || len(p.last) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.PublishTimeout)
	defer cancel()
	pipe := b.client.Pipeline()
	for room := range p.last {
		pipe.HDel(ctx, b.presenceKey(room), b.hubID)
	}
	_, _ = pipe.Exec(ctx)
	p.last = nil
}

// Presence returns the number of members the room has on every hub that
// tracks presence (see TrackPresence), counting only sizes refreshed within
// Config.PresenceTTL, so a crashed hub's members drop out. Expiries are
// compared with this machine's clock: keep clocks in sync to well under
// the TTL.
func (b *Broker) Presence(ctx context.Context, room string) (int, error) {
	if !core.ValidRoomName(room) {
		return 0, fmt.Errorf("%w: room %q", ErrInvalidTarget, cut(room))
	}
	key := b.presenceKey(room)
	fields, err := b.client.HGetAll(ctx, key).Result()
	if err != nil {
		return 0, fmt.Errorf("redisbroker: presence of room %q: %w", cut(room), err)
	}
	now := time.Now().UnixMilli()
	total := 0
	var stale []string
	for hub, v := range fields {
		n, exp, ok := parsePresence(v)
		if !ok || exp < now {
			stale = append(stale, hub)
			continue
		}
		total += n
	}
	if len(stale) > 0 {
		_ = b.client.HDel(ctx, key, stale...).Err() // tidy up; harmless if it fails
	}
	return total, nil
}

func parsePresence(v string) (n int, exp int64, ok bool) {
	a, e, found := strings.Cut(v, ":")
	if !found {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(a)
	exp, err2 := strconv.ParseInt(e, 10, 64)
	return n, exp, err1 == nil && err2 == nil && n >= 0
}
