package redisbroker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rushws/rushws/internal/quote"
)

// Config configures a Broker. The zero Config is valid. Fields are read once
// by New; changing a Config afterwards has no effect.
type Config struct {
	// Prefix starts the name of every channel and key the broker uses, so
	// several applications can share one Redis. 1 to 64 bytes of ASCII
	// letters, digits, '-', '_', '.' and ':' (never a glob or hash-tag
	// character). Optional. Default "rushws".
	Prefix string

	// PublishTimeout is how long a message may wait to be handed to Redis:
	// Publish waits at most this long for room in the publish queue, and a
	// message still queued when it expires is dropped and counted in
	// PublishErrors instead of arriving late. Optional. Default 250ms.
	PublishTimeout time.Duration
	// PublishQueue is how many messages may wait for the publisher
	// goroutine, which writes them to Redis in pipelined batches.
	// Optional. Default 4096.
	PublishQueue int
	// PublishQueueBytes bounds the payload bytes waiting for the publisher
	// goroutine: a message that would go over it is refused at once
	// (ErrQueueFull) and counted in PublishErrors. Optional. Default 16 MiB.
	PublishQueueBytes int

	// ReceiveBuffer is how many received messages may wait for delivery to
	// the hub. The Redis read loop never waits: a message that finds the
	// buffer full is dropped and counted in Drops. Optional. Default 4096.
	ReceiveBuffer int
	// ReceiveBufferBytes bounds the payload bytes of the received messages
	// waiting for delivery; a message that would go over it is dropped and
	// counted in Drops. Optional. Default 16 MiB.
	ReceiveBufferBytes int

	// StartTimeout bounds New's first PING and Start's first subscription.
	// Optional. Default 5s.
	StartTimeout time.Duration
	// AllowUnavailable lets New and Start succeed while Redis does not
	// answer: the hub then runs local-only (publishes fail and are counted)
	// until the broker connects, which it keeps trying in the background.
	// Optional. Default false: New returns an error when Redis does not
	// answer within StartTimeout.
	AllowUnavailable bool

	// ClusterSlots is, with a Redis Cluster client, how many hash slots
	// room channels are spread over. Rooms use sharded pub/sub (SPUBLISH,
	// SSUBSCRIBE) and each slot in use gets its own subscriber connection,
	// opened to the shard that owns it. Ignored without a cluster.
	// Optional. Default 16.
	ClusterSlots int

	// PresenceTTL is how long a hub's room sizes stay counted by Presence
	// after its last refresh, so the members of a crashed instance age out.
	// Sizes are refreshed every third of it. Only used after
	// TrackPresence. Optional. Default 15s.
	PresenceTTL time.Duration

	// HistoryMetaTTL is, with recovery on, how long a stream's offset
	// stays in Redis after its last append; a stream forgotten by then
	// counts from 1 again. Keep it far above core's Recovery.Window.
	// Optional. Default 24h.
	HistoryMetaTTL time.Duration

	// Logger receives the broker's logs: connection losses and recoveries,
	// the first publish error after a success. Message bodies are never
	// logged. Optional. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultPrefix         = "rushws"
	DefaultPublishTimeout = 250 * time.Millisecond
	DefaultPublishQueue   = 4096
	DefaultReceiveBuffer  = 4096
	// DefaultPublishQueueBytes is the default of PublishQueueBytes.
	DefaultPublishQueueBytes = 16 << 20
	// DefaultReceiveBufferBytes is the default of ReceiveBufferBytes.
	DefaultReceiveBufferBytes = 16 << 20
	// DefaultQueueBytes is the old name of the default of both
	// PublishQueueBytes and ReceiveBufferBytes.
	//
	// Deprecated: use DefaultPublishQueueBytes or
	// DefaultReceiveBufferBytes, named after the field they fill.
	DefaultQueueBytes     = DefaultPublishQueueBytes
	DefaultStartTimeout   = 5 * time.Second
	DefaultClusterSlots   = 16
	DefaultPresenceTTL    = 15 * time.Second
	DefaultHistoryMetaTTL = 24 * time.Hour
)

// maxClusterSlots bounds ClusterSlots: each slot in use costs a connection.
const maxClusterSlots = 1024

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	neg := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("redisbroker: Config.%s must not be negative", name))
		}
	}
	neg("PublishTimeout", int64(c.PublishTimeout))
	neg("PublishQueue", int64(c.PublishQueue))
	neg("ReceiveBuffer", int64(c.ReceiveBuffer))
	neg("PublishQueueBytes", int64(c.PublishQueueBytes))
	neg("ReceiveBufferBytes", int64(c.ReceiveBufferBytes))
	neg("StartTimeout", int64(c.StartTimeout))
	neg("ClusterSlots", int64(c.ClusterSlots))
	neg("PresenceTTL", int64(c.PresenceTTL))
	neg("HistoryMetaTTL", int64(c.HistoryMetaTTL))
	if c.ClusterSlots > maxClusterSlots {
		errs = append(errs, fmt.Errorf("redisbroker: Config.ClusterSlots must be at most %d, got %d", maxClusterSlots, c.ClusterSlots))
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	} else if err := checkPrefix(c.Prefix); err != nil {
		errs = append(errs, err)
	}
	if c.PresenceTTL > 0 && c.PresenceTTL < 3*time.Millisecond {
		errs = append(errs, errors.New("redisbroker: Config.PresenceTTL must be at least 3ms"))
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.PublishQueue == 0 {
		c.PublishQueue = DefaultPublishQueue
	}
	if c.ReceiveBuffer == 0 {
		c.ReceiveBuffer = DefaultReceiveBuffer
	}
	if c.PublishQueueBytes == 0 {
		c.PublishQueueBytes = DefaultPublishQueueBytes
	}
	if c.ReceiveBufferBytes == 0 {
		c.ReceiveBufferBytes = DefaultReceiveBufferBytes
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.ClusterSlots == 0 {
		c.ClusterSlots = DefaultClusterSlots
	}
	if c.PresenceTTL == 0 {
		c.PresenceTTL = DefaultPresenceTTL
	}
	if c.HistoryMetaTTL == 0 {
		c.HistoryMetaTTL = DefaultHistoryMetaTTL
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, errors.Join(errs...)
}

// checkPrefix accepts 1 to 64 bytes of letters, digits, '-', '_', '.' and
// ':'. It keeps glob characters ('*', '?', '[') and hash-tag braces out of
// channel names.
func checkPrefix(p string) error {
	if len(p) > 64 {
		return fmt.Errorf("redisbroker: Config.Prefix is %d bytes, at most 64 allowed", len(p))
	}
	for i := 0; i < len(p); i++ {
		if !prefixByte(p[i]) {
			return fmt.Errorf("redisbroker: Config.Prefix %q: byte %q not allowed (letters, digits, '-', '_', '.', ':')", cut(p), p[i])
		}
	}
	return nil
}

func prefixByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return b == '-' || b == '_' || b == '.' || b == ':'
}

// cut shortens user input quoted in errors and logs.
func cut(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return quote.Cut(s, max) + quote.Ellipsis
}
