package redisbroker

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/core"
)

// The scripts of the recovery store.
var (
	//go:embed history.lua
	appendLua    string
	appendScript = redis.NewScript(appendLua)
	//go:embed streams.lua
	streamsLua    string
	streamsScript = redis.NewScript(streamsLua)
	//go:embed session.lua
	sessionLua    string
	sessionScript = redis.NewScript(sessionLua)
)

// flagKept marks a message that was kept by the append script: it carries
// "pos", and the hub that sent it delivers it too when it comes back.
const flagKept = 8

// keptState is the broker's recovery side, set by StartRecovery.
type keptState struct {
	opts    core.HistoryOptions
	deliver func(core.KeptMessage)
}

// keptItem is a kept message waiting for the publisher goroutine.
type keptItem struct {
	m    core.KeptMessage
	keys []string
	args []any
}

// StartRecovery implements core.RecoveryStore; core.NewHub calls it when
// recovery is on, after Start. It refuses a Cluster client: a message kept
// in several streams could not be appended atomically there.
//
// Keys, with prefix P:
//
//	P:he       the epoch of every stream, created with SET NX: when Redis
//	           loses its data (FLUSHDB, a restart without persistence) the
//	           next use gets a new epoch, and positions issued before fail
//	           as history_lost
//	P:hq       the count of appends, which orders entries across streams
//	P:ho:<s>   the last offset of stream s (INCR; expires after
//	           Config.HistoryMetaTTL without an append)
//	P:hs:<s>   the entries of stream s {o: offset, g: P:hq's count, m:
//	           header and message}, trimmed to the hub's HistorySize
//	           (MAXLEN) and HistoryTTL (MINID on time-based entry IDs; the
//	           key expires HistoryTTL after the last append)
//	P:s:<h>    hash {d: session record JSON, u: identity, x: deadline ms} of
//	           the session whose token hashes (SHA-256, hex) to h
//
// where <s> is "all", "r:" and the base64url of a room name, or "c:" and a
// connection ID. A stream that never got a message has no key: its
// position is the epoch and offset 0. A stream forgotten after
// HistoryMetaTTL starts again from offset 1 under the same epoch; a client
// position beyond the offset then fails as history_lost.
//
// A kept message is appended to its streams and published in one Lua
// script: a one-room message on the room's channel, others on the
// everyone channel (a connection's messages too: a recovered connection's
// ID no longer names the hub that holds it).
func (b *Broker) StartRecovery(hubID string, opts core.HistoryOptions, deliver func(core.KeptMessage)) error {
	if b.cluster != nil {
		return errors.New("redisbroker: recovery is not supported on a Redis Cluster yet (a message kept in several streams cannot be appended atomically across slots)")
	}
	if deliver == nil || opts.Size <= 0 || opts.TTL <= 0 {
		return errors.New("redisbroker: StartRecovery needs a deliver function and positive history bounds")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started || b.hubID != hubID {
		return fmt.Errorf("redisbroker: StartRecovery for hub %q, but the broker was started by %q", cut(hubID), cut(b.hubID))
	}
	if b.kept.Load() != nil {
		return errors.New("redisbroker: recovery already started")
	}
	b.kept.Store(&keptState{opts: opts, deliver: deliver})
	return nil
}

// streamKey returns the part of a stream's keys after P:hm: or P:hs:, and
// whether the name is one a store keeps.
func streamKey(name string) (string, bool) {
	switch {
	case name == core.StreamAll:
		return "all", true
	case strings.HasPrefix(name, "room:"):
		room := name[len("room:"):]
		if !core.ValidRoomName(room) {
			return "", false
		}
		return "r:" + base64.RawURLEncoding.EncodeToString([]byte(room)), true
	case strings.HasPrefix(name, "conn:"):
		id := name[len("conn:"):]
		if len(id) > 128 || !validHubID(core.HubOf(id)) || !validHubID(strings.ReplaceAll(id, ".", "")) {
			return "", false
		}
		return "c:" + id, true
	}
	return "", false
}

// streamKeys returns the epoch key, then the offset and entries keys of
// each named stream.
func (b *Broker) streamKeys(names []string) ([]string, error) {
	keys := make([]string, 0, 2+2*len(names))
	keys = append(keys, b.cfg.Prefix+":he")
	for _, n := range names {
		k, ok := streamKey(n)
		if !ok {
			return nil, fmt.Errorf("%w: stream %q", ErrInvalidTarget, cut(n))
		}
		keys = append(keys, b.cfg.Prefix+":ho:"+k, b.cfg.Prefix+":hs:"+k)
	}
	return keys, nil
}

// newEpoch returns a random epoch for a stream Redis does not know: 64
// bits, base64url.
func newEpoch() string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return base64.RawURLEncoding.EncodeToString(r[:])
}

// metaTTL is how long a stream's epoch and offset outlive its last use.
func (b *Broker) metaTTL() int64 { return b.cfg.HistoryMetaTTL.Milliseconds() }

// Append implements core.RecoveryStore: it queues m for the publisher
// goroutine, which appends and publishes it with one script, within
// Config.PublishTimeout. When that fails, m is handed back to this hub
// alone, unkept. An error means nothing was queued.
func (b *Broker) Append(ctx context.Context, m core.KeptMessage) error {
	ks := b.kept.Load()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case ks == nil:
		return ErrNotStarted
	case len(m.Streams) == 0 || len(m.Data) < 2 || m.Data[len(m.Data)-1] != '}':
		return fmt.Errorf("%w: a kept message needs streams and an event envelope", ErrInvalidTarget)
	}
	keys, err := b.streamKeys(m.Streams)
	if err != nil {
		return err
	}
	bm := core.BrokerMessage{Hub: m.Hub, Except: m.Except, ExceptRooms: m.ExceptRooms}
	it := pubItem{channel: b.ch.all}
	for _, s := range m.Streams {
		switch {
		case s == core.StreamAll:
			bm.All = true
		case strings.HasPrefix(s, "room:"):
			bm.Rooms = append(bm.Rooms, s[len("room:"):])
		default:
			bm.Conn = s[len("conn:"):]
		}
	}
	if len(m.Streams) == 1 && len(bm.Rooms) == 1 {
		it.channel, _ = b.ch.room(bm.Rooms[0])
		b.awaitRoom(ctx, bm.Rooms[0], it.channel)
	}
	header := encode(make([]byte, 0, encodedSize(&bm)), &bm)
	header[1] |= flagKept
	args := []any{newEpoch(), ks.opts.Size, ks.opts.TTL.Milliseconds(), b.metaTTL(), it.channel, "0", header, m.Data}
	for _, s := range m.Streams {
		q, _ := json.Marshal(core.WireStream(s))
		args = append(args, q)
	}
	keys = append(keys[:1], append([]string{b.cfg.Prefix + ":hq"}, keys[1:]...)...)
	it.kept = &keptItem{m: m, keys: keys, args: args}
	it.payload = m.Data
	return b.enqueue(ctx, it)
}

// unkept hands a kept message that could not be appended back to this
// hub, which delivers it to its own members without "pos" and counts it.
func (b *Broker) unkept(k *keptItem) {
	if ks := b.kept.Load(); ks != nil {
		m := k.m
		m.Kept = false
		ks.deliver(m)
	}
}

// runAppend runs the append script for one item, loading the script when
// Redis does not have it (after a restart or SCRIPT FLUSH).
func (b *Broker) runAppend(ctx context.Context, k *keptItem) error {
	return appendScript.Run(ctx, b.client, k.keys, k.args...).Err()
}

// Streams implements core.RecoveryStore.
func (b *Broker) Streams(ctx context.Context, names []string) (map[string]core.StreamState, error) {
	ks := b.kept.Load()
	if ks == nil {
		return nil, ErrNotStarted
	}
	keys, err := b.streamKeys(names)
	if err != nil {
		return nil, err
	}
	v, err := streamsScript.Run(ctx, b.client, keys, newEpoch(), ks.opts.TTL.Milliseconds(), -1, 0).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisbroker: reading streams: %w", err)
	}
	if len(v) != 1+2*len(names) {
		return nil, fmt.Errorf("%w: streams script returned %d values", errMalformed, len(v))
	}
	out := make(map[string]core.StreamState, len(names))
	for i, n := range names {
		st, err := parseState(v[0], v[1+2*i:3+2*i])
		if err != nil {
			return nil, err
		}
		out[n] = st
	}
	return out, nil
}

// parseState decodes a stream's epoch, and its offset and oldest offset.
func parseState(epoch any, v []any) (core.StreamState, error) {
	e, _ := epoch.(string)
	top, err1 := strconv.ParseUint(fmt.Sprint(v[0]), 10, 64)
	oldest, err2 := strconv.ParseUint(fmt.Sprint(v[1]), 10, 64)
	if !core.ValidEpoch(e) || err1 != nil || err2 != nil {
		return core.StreamState{}, fmt.Errorf("%w: stream state", errMalformed)
	}
	return core.StreamState{Top: core.Position{Epoch: e, Offset: top}, Oldest: oldest}, nil
}

// History implements core.RecoveryStore. For a room's stream it first
// waits (up to a second, within ctx) for this hub's subscription to the
// room's channel, which the recovering connection's join asked for:
// whatever is appended after the read then arrives live.
func (b *Broker) History(ctx context.Context, name string, after uint64, limit int) ([]core.HistoryEntry, core.StreamState, error) {
	ks := b.kept.Load()
	if ks == nil {
		return nil, core.StreamState{}, ErrNotStarted
	}
	keys, err := b.streamKeys([]string{name})
	if err != nil {
		return nil, core.StreamState{}, err
	}
	if room, ok := strings.CutPrefix(name, "room:"); ok {
		b.waitSubscribed(ctx, room)
	}
	if limit <= 0 {
		limit = ks.opts.Size
	}
	v, err := streamsScript.Run(ctx, b.client, keys, newEpoch(), ks.opts.TTL.Milliseconds(), strconv.FormatUint(min(after, 1<<52), 10), limit).Slice()
	if err != nil {
		return nil, core.StreamState{}, fmt.Errorf("redisbroker: reading history: %w", err)
	}
	if len(v) != 4 {
		return nil, core.StreamState{}, fmt.Errorf("%w: history script returned %d values", errMalformed, len(v))
	}
	st, err := parseState(v[0], v[1:3])
	if err != nil {
		return nil, core.StreamState{}, err
	}
	raw, _ := v[3].([]any)
	entries := make([]core.HistoryEntry, 0, len(raw))
	for i := len(raw) - 1; i >= 0; i-- { // XREVRANGE: newest first
		e, err := decodeEntry(raw[i])
		if err != nil {
			b.malformed.Add(1)
			continue
		}
		if e.Offset > after {
			entries = append(entries, e)
		}
	}
	return entries, st, nil
}

// decodeEntry decodes one stream entry as Redis returns it: [id, [field,
// value, ...]] with fields o (offset) and m (broker header and message).
func decodeEntry(v any) (core.HistoryEntry, error) {
	bad := fmt.Errorf("%w: history entry", errMalformed)
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return core.HistoryEntry{}, bad
	}
	id, _ := pair[0].(string)
	fields, _ := pair[1].([]any)
	ms, _, found := strings.Cut(id, "-")
	t, err := strconv.ParseInt(ms, 10, 64)
	if !found || err != nil || t < 0 {
		return core.HistoryEntry{}, bad
	}
	var off, seq, msg string
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		val, _ := fields[i+1].(string)
		switch k {
		case "o":
			off = val
		case "g":
			seq = val
		case "m":
			msg = val
		}
	}
	return parseEntry(t, off, seq, []byte(msg))
}

// parseEntry decodes an entry's offset and message, checking the message
// as one received on a channel.
func parseEntry(ms int64, off, seq string, msg []byte) (core.HistoryEntry, error) {
	bad := fmt.Errorf("%w: history entry", errMalformed)
	o, err := strconv.ParseUint(off, 10, 64)
	g, gerr := strconv.ParseUint(seq, 10, 64)
	if err != nil || gerr != nil || o == 0 || len(msg) < 2 || msg[1]&flagKept == 0 {
		return core.HistoryEntry{}, bad
	}
	m, err := decode(msg)
	if err != nil || m.Binary || m.CloseCode != 0 {
		return core.HistoryEntry{}, bad
	}
	return core.HistoryEntry{Offset: o, Seq: g, Time: time.UnixMilli(ms), Except: m.Except, ExceptRooms: m.ExceptRooms, Data: m.Data}, nil
}

// waitSubscribed waits until Redis has confirmed this hub's subscription to
// a room's channel, at most a second or until ctx ends.
func (b *Broker) waitSubscribed(ctx context.Context, room string) {
	ch, _ := b.ch.room(room)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		b.main.mu.Lock()
		_, ok := b.main.confirmed[ch]
		b.main.mu.Unlock()
		if ok || !sleep(ctx, 2*time.Millisecond) {
			return
		}
	}
}

// awaitRoom waits, at most Config.PublishTimeout, while this hub's
// subscription to a room's channel is on its way to Redis (the room's
// first local member just joined). A kept message reaches this hub's own
// members only when it comes back from Redis, so a message sent right
// after the join (a route handler's "joined" notice) would otherwise miss
// them. It does not wait while the subscriber is down, nor for a room this
// hub does not subscribe to.
func (b *Broker) awaitRoom(ctx context.Context, room, channel string) {
	deadline := time.Now().Add(b.cfg.PublishTimeout)
	for {
		b.subMu.Lock()
		want, queued := b.pending[room]
		b.subMu.Unlock()
		s := b.main
		s.mu.Lock()
		_, wanted := s.channels[channel]
		_, confirmed := s.confirmed[channel]
		up := s.up
		s.mu.Unlock()
		if confirmed || !up || !wanted && !(queued && want) {
			return
		}
		if time.Now().After(deadline) || !sleep(ctx, time.Millisecond) {
			return
		}
	}
}

// sessionKey returns a session's key; hash is hex SHA-256.
func (b *Broker) sessionKey(hash string) (string, error) {
	if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return "", errors.New("redisbroker: a session token hash is 64 hex digits")
	}
	return b.cfg.Prefix + ":s:" + hash, nil
}

// sessionTTL is how long a session key lives: until its deadline plus the
// hub's session TTL (past the deadline it is reported expired, then
// unknown).
func (b *Broker) sessionTTL(deadline time.Time) int64 {
	ks := b.kept.Load()
	ttl := time.Until(deadline)
	if ks != nil {
		ttl += ks.opts.SessionTTL
	}
	return max(ttl.Milliseconds(), 1)
}

// SaveSession implements core.RecoveryStore.
func (b *Broker) SaveSession(ctx context.Context, s core.SessionRecord, create bool) error {
	key, err := b.sessionKey(s.TokenHash)
	if err != nil {
		return err
	}
	d, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("redisbroker: encoding a session: %w", err)
	}
	c := "0"
	if create {
		c = "1"
	}
	return sessionScript.Run(ctx, b.client, []string{key}, "save", d, s.Identity, s.Deadline.UnixMilli(), b.sessionTTL(s.Deadline), c).Err()
}

// TouchSessions implements core.RecoveryStore, with one pipeline.
func (b *Broker) TouchSessions(ctx context.Context, hashes []string, deadline time.Time) error {
	if len(hashes) == 0 {
		return nil
	}
	if err := sessionScript.Load(ctx, b.client).Err(); err != nil {
		return err
	}
	ttl := b.sessionTTL(deadline)
	pipe := b.client.Pipeline()
	for _, h := range hashes {
		key, err := b.sessionKey(h)
		if err != nil {
			continue
		}
		sessionScript.EvalSha(ctx, pipe, []string{key}, "touch", deadline.UnixMilli(), ttl)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// TakeSession implements core.RecoveryStore.
func (b *Broker) TakeSession(ctx context.Context, hash, identity string) (core.SessionRecord, error) {
	key, err := b.sessionKey(hash)
	if err != nil {
		return core.SessionRecord{}, core.ErrSessionNotFound
	}
	v, err := sessionScript.Run(ctx, b.client, []string{key}, "take", identity).StringSlice()
	switch {
	case errors.Is(err, redis.Nil):
		return core.SessionRecord{}, core.ErrSessionNotFound
	case err != nil:
		return core.SessionRecord{}, fmt.Errorf("redisbroker: taking a session: %w", err)
	case len(v) == 1 && v[0] == "forbidden":
		return core.SessionRecord{}, core.ErrSessionForbidden
	case len(v) != 3 || v[0] != "ok":
		return core.SessionRecord{}, fmt.Errorf("%w: session script reply", errMalformed)
	}
	rec, err := decodeSession([]byte(v[1]), v[2])
	if err != nil {
		b.malformed.Add(1)
		return core.SessionRecord{}, core.ErrSessionNotFound
	}
	rec.TokenHash, rec.Identity = hash, identity
	return rec, nil
}

// maxSessionBytes bounds a session record read from Redis.
const maxSessionBytes = 1 << 20

// decodeSession decodes a session record and its deadline (unix ms),
// checking every field as the hub would.
func decodeSession(d []byte, deadline string) (core.SessionRecord, error) {
	var rec core.SessionRecord
	bad := fmt.Errorf("%w: session record", errMalformed)
	ms, err := strconv.ParseInt(deadline, 10, 64)
	if err != nil || len(d) > maxSessionBytes || json.Unmarshal(d, &rec) != nil {
		return core.SessionRecord{}, bad
	}
	rec.Deadline = time.UnixMilli(ms)
	if !validHubID(core.HubOf(rec.ConnID)) || (rec.Hub != "" && !validHubID(rec.Hub)) {
		return core.SessionRecord{}, bad
	}
	for _, r := range rec.Rooms {
		if !core.ValidRoomName(r) {
			return core.SessionRecord{}, bad
		}
	}
	for k, v := range rec.Positions {
		if _, ok := streamKey(k); !ok {
			return core.SessionRecord{}, bad
		}
		if _, err := core.ParsePosition(v); err != nil {
			return core.SessionRecord{}, bad
		}
	}
	return rec, nil
}

// keptStore is the atomic pointer type of Broker.kept.
type keptStore = atomic.Pointer[keptState]
