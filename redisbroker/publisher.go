package redisbroker

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxPipeline caps the messages written to Redis in one round trip.
const maxPipeline = 256

// publishLoop is the only writer of messages to Redis: it takes what
// Publish queued, in order, and sends it in pipelined batches, one PUBLISH
// (or SPUBLISH) per message. Order per hub is kept; a message whose
// deadline passed while it waited is dropped and counted, never sent late.
func (b *Broker) publishLoop() {
	defer b.wg.Done()
	batch := make([]pubItem, 0, maxPipeline)
	for {
		select {
		case <-b.ctx.Done():
			return
		case it := <-b.pubq:
			batch = append(batch, it)
		}
	fill:
		for len(batch) < maxPipeline {
			select {
			case it := <-b.pubq:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		b.flush(batch)
		var size int64
		for _, it := range batch {
			size += int64(len(it.payload))
		}
		b.pubBytes.Add(-size)
		clear(batch)
		batch = batch[:0]
	}
}

var errExpired = errors.New("deadline passed before Redis took the message")

func (b *Broker) flush(batch []pubItem) {
	now := time.Now()
	live := batch[:0:0]
	expired := 0
	for _, it := range batch {
		if now.After(it.deadline) {
			expired++
			if it.kept != nil {
				b.unkept(it.kept)
			}
			continue
		}
		live = append(live, it)
	}
	if expired > 0 {
		b.publishFailed(expired, errExpired)
	}
	if len(live) == 0 {
		return
	}
	// The batch must reach Redis by the earliest deadline in it: go-redis
	// honours it while getting or dialing a connection, so messages queued
	// during an outage fail and are counted instead of going out late. Once
	// written, the client's ReadTimeout bounds the wait for the replies
	// (its ContextTimeoutEnabled option makes the deadline apply there
	// too). Either way this goroutine, not a read loop, waits.
	deadline := live[0].deadline
	for _, it := range live[1:] {
		if it.deadline.Before(deadline) {
			deadline = it.deadline
		}
	}
	ctx, cancel := context.WithDeadline(b.ctx, deadline)
	defer cancel()
	if len(live) == 1 {
		it := live[0]
		var err error
		if it.kept != nil {
			err = b.runAppend(ctx, it.kept)
			if err != nil {
				b.unkept(it.kept)
			}
		} else if it.sharded {
			err = b.client.SPublish(ctx, it.channel, it.payload).Err()
		} else {
			err = b.client.Publish(ctx, it.channel, it.payload).Err()
		}
		b.published1(err)
		return
	}
	pipe := b.client.Pipeline()
	for _, it := range live {
		if it.kept != nil {
			appendScript.EvalSha(ctx, pipe, it.kept.keys, it.kept.args...)
		} else if it.sharded {
			pipe.SPublish(ctx, it.channel, it.payload)
		} else {
			pipe.Publish(ctx, it.channel, it.payload)
		}
	}
	cmds, err := pipe.Exec(ctx)
	if len(cmds) != len(live) {
		b.publishFailed(len(live), err)
		for _, it := range live {
			if it.kept != nil {
				b.unkept(it.kept)
			}
		}
		return
	}
	for i, c := range cmds {
		err := c.Err()
		if k := live[i].kept; k != nil && err != nil {
			if redis.HasErrorPrefix(err, "NOSCRIPT") {
				err = b.runAppend(ctx, k) // loads the script; this one goes out a little later than the batch
			}
			if err != nil {
				b.unkept(k)
			}
		}
		b.published1(err)
	}
}

// published1 counts one message handed to Redis, or failed.
func (b *Broker) published1(err error) {
	if err != nil {
		if b.ctx.Err() != nil {
			err = ErrClosed
		}
		b.publishFailed(1, err)
		return
	}
	b.published.Add(1)
	b.pubFailing.Store(false)
}
