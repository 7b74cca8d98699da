package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// probe checks at start that Redis answers. For a client that dials one
// address (redis.NewClient, redis.NewFailoverClient) it first connects once
// with the client's own dialer, outside the pool: an address where nothing
// listens is then reported at once with the dialer's own error, without the
// pool's retries and without the lines go-redis logs for each failed dial
// (its logger is global, so the broker leaves it alone). It then sends a
// PING through the client.
func probe(ctx context.Context, client redis.UniversalClient) error {
	if c, ok := client.(*redis.Client); ok {
		if o := c.Options(); o.Dialer != nil {
			conn, err := o.Dialer(ctx, o.Network, o.Addr)
			if err != nil {
				return &startError{op: "connect", err: err}
			}
			_ = conn.Close()
		}
	}
	if err := client.Ping(ctx).Err(); err != nil {
		return &startError{op: "PING", err: err}
	}
	return nil
}

// startError is what probe saw fail: the connection or the PING.
type startError struct {
	op  string // "connect" or "PING"
	err error
}

func (e *startError) Error() string { return e.op + ": " + e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// startFailure words New's error: what failed, where, after how long, and
// what to do, since it is the first thing a new user of the broker may read.
func startFailure(client redis.UniversalClient, cfg Config, err error, elapsed time.Duration) error {
	addr := addrOf(client)
	if elapsed >= time.Millisecond {
		elapsed = elapsed.Round(time.Millisecond)
	} else {
		elapsed = elapsed.Round(time.Microsecond)
	}
	var se *startError
	op := "PING"
	if errors.As(err, &se) {
		op, err = se.op, se.err
	}
	var msg string
	switch {
	case errors.Is(err, context.DeadlineExceeded) && op == "connect":
		msg = fmt.Sprintf("Redis at %s did not accept a connection within %v (Config.StartTimeout)", addr, cfg.StartTimeout)
	case errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("Redis at %s did not answer PING within %v (Config.StartTimeout)", addr, cfg.StartTimeout)
	case op == "connect":
		msg = fmt.Sprintf("cannot connect to Redis at %s (after %v)", addr, elapsed)
	default:
		msg = fmt.Sprintf("PING to Redis at %s failed after %v", addr, elapsed)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && !errors.Is(err, context.DeadlineExceeded) {
		// Redis answered with an error (NOAUTH, WRONGPASS, ...): starting
		// without it would not help.
		return fmt.Errorf("redisbroker: %s: %w", msg, err)
	}
	if cfg.AllowUnavailable {
		return fmt.Errorf("redisbroker: %s: %w", msg, err)
	}
	return fmt.Errorf("redisbroker: %s: %w; start Redis or fix the address, or set redisbroker.Config.AllowUnavailable to start the hub local-only and join the other hubs once Redis answers", msg, err)
}
