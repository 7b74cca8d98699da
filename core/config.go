package core

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// SlowConsumerPolicy says what happens when a connection's send queue is
// full.
type SlowConsumerPolicy int

const (
	// SlowClose closes the slow connection with 1008 "slow consumer" after
	// a best-effort close frame. It is the default: a client that cannot
	// keep up gets a clear signal to reconnect instead of silent gaps.
	SlowClose SlowConsumerPolicy = iota
	// SlowDrop drops the message for that connection only and counts it.
	SlowDrop
)

// ReadMode says how a hub's connections wait for input.
type ReadMode int

const (
	// ReadAuto parks idle connections on a shared poller where the
	// platform has one (Linux, plain TCP): an idle connection then holds no
	// goroutine, and one is taken from a bounded pool when input arrives.
	// TLS connections and other platforms use ReadGoroutine.
	ReadAuto ReadMode = iota
	// ReadGoroutine gives every connection its own read goroutine for its
	// whole life, as gorilla/websocket servers do.
	ReadGoroutine
)

// Config configures a Hub. The zero Config is valid and secure: same-origin
// browsers only, 64 KiB messages, bounded queues, heartbeats on. Fields are
// read once by NewHub; changing a Config afterwards has no effect.
type Config struct {
	// ReadLimit is the largest message accepted, in bytes, after
	// decompression. A larger message closes the connection with 1009.
	// Optional. Default 64 KiB.
	ReadLimit int64

	// SendQueueBytes bounds each connection's send queue, in bytes of
	// framed messages. A queue over its bound is full, and the SlowConsumer
	// policy applies, only when its peer's socket has accepted nothing for
	// SlowConsumerGrace, or when it reaches twice the bound: a client that
	// reads catches up on a burst. Optional. Default 1 MiB.
	SendQueueBytes int
	// SendQueueMessages bounds each connection's send queue by count, in
	// the same way; it is a guard far above any burst a healthy client
	// sees. Optional. Default 16384.
	SendQueueMessages int
	// SlowConsumer is the policy applied when a send queue is full.
	// Optional. Default SlowClose.
	SlowConsumer SlowConsumerPolicy
	// SlowConsumerGrace is how long a peer whose queue is over its bound
	// may accept nothing before it is a slow consumer. Optional. Default
	// 5s.
	SlowConsumerGrace time.Duration

	// WriteTimeout bounds each write to a peer: a peer whose socket accepts
	// nothing for this long is closed as a slow consumer, after one more
	// WriteTimeout to complete the frame in flight and send the close
	// frame. Optional. Default 10s.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds writing the 101 response. A route handler
	// still running this long after the upgrade is logged once: the
	// connection's messages are read only once it returns. Optional.
	// Default 10s.
	HandshakeTimeout time.Duration
	// KeepRequestBytes bounds what a connection keeps of its handshake
	// request (URL and headers) once its route handler has returned; see
	// Conn.Request. Optional. Default 4096.
	KeepRequestBytes int

	// PingInterval is how often the hub pings every connection. A negative
	// value turns heartbeats off. Optional. Default 25s.
	PingInterval time.Duration
	// PongTimeout is how long a peer may stay silent (no pong, no message)
	// before it is closed. Must exceed PingInterval. Optional. Default 60s.
	PongTimeout time.Duration

	// MaxConnections caps live connections; further handshakes get 503.
	// Optional. Default 0, unlimited.
	MaxConnections int
	// MaxRooms caps the rooms that may exist at once. Optional. Default 0,
	// unlimited.
	MaxRooms int
	// MaxRoomsPerConn caps the rooms one connection may be in. A negative
	// value removes the cap. Optional. Default 128.
	MaxRoomsPerConn int

	// EnableCompression negotiates permessage-deflate with clients that ask
	// for it. ReadLimit still applies to the decompressed size. Optional.
	// Default false.
	EnableCompression bool
	// Subprotocols lists the subprotocols the hub accepts, in order of
	// preference; the first one the client also offers is selected.
	// Optional. Default none.
	Subprotocols []string

	// CheckOrigin decides whether a browser's Origin may connect. It is
	// called only for requests that carry an Origin header and whose route
	// has no origin middleware. Optional. Default same-origin only (the
	// Origin's host must equal the request's Host).
	CheckOrigin func(r *http.Request) bool
	// InsecureSkipOriginCheck accepts any Origin, which lets any web page
	// open connections with the visitor's cookies (cross-site WebSocket
	// hijacking). Prefer the Origin middleware. Optional. Default false.
	InsecureSkipOriginCheck bool

	// ReadMode chooses how connections wait for input. Optional. Default
	// ReadAuto.
	ReadMode ReadMode
	// ReadTimeout bounds how long a peer may stop in the middle of a frame
	// before its connection is closed with 1002: an idle connection between
	// frames is bounded by the heartbeat instead. Optional. Default 30s.
	ReadTimeout time.Duration

	// ReadBufferSize is the size of the buffer a connection reads into, in
	// bytes; messages larger than it still arrive. Buffers are pooled: a
	// parked connection, or one waiting in goroutine mode on Linux, holds
	// none; elsewhere (TLS, other platforms) a waiting connection holds
	// one. Optional. Default 1024.
	ReadBufferSize int
	// WriteBufferSize is kept for compatibility and has no effect: frames
	// are written from the send queue, without a write buffer.
	//
	// Deprecated: frames are written without a write buffer.
	WriteBufferSize int

	// Broker links the hub to hubs on other machines (see Broker and
	// package redisbroker). Optional. Default nil: the hub is local.
	Broker Broker

	// Recovery configures connection state recovery: sessions, bounded
	// histories and replay on reconnect (see RecoveryConfig). Optional.
	// Default off.
	Recovery RecoveryConfig

	// Logger receives the hub's logs. Message bodies and credentials are
	// never logged. Optional. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config's fields.
const (
	DefaultReadLimit         = 64 << 10
	DefaultSendQueueMessages = 16384
	DefaultSlowConsumerGrace = 5 * time.Second
	DefaultKeepRequestBytes  = 4096
	DefaultSendQueueBytes    = 1 << 20
	DefaultWriteTimeout      = 10 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultPingInterval      = 25 * time.Second
	DefaultPongTimeout       = 60 * time.Second
	DefaultMaxRoomsPerConn   = 128
	DefaultReadBufferSize    = 1024
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteBufferSize   = 4096
)

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	neg := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("rushws: Config.%s must not be negative", name))
		}
	}
	neg("ReadLimit", c.ReadLimit)
	neg("SendQueueMessages", int64(c.SendQueueMessages))
	neg("SendQueueBytes", int64(c.SendQueueBytes))
	neg("WriteTimeout", int64(c.WriteTimeout))
	neg("SlowConsumerGrace", int64(c.SlowConsumerGrace))
	neg("KeepRequestBytes", int64(c.KeepRequestBytes))
	neg("HandshakeTimeout", int64(c.HandshakeTimeout))
	neg("PongTimeout", int64(c.PongTimeout))
	neg("MaxConnections", int64(c.MaxConnections))
	neg("MaxRooms", int64(c.MaxRooms))
	neg("ReadBufferSize", int64(c.ReadBufferSize))
	neg("ReadTimeout", int64(c.ReadTimeout))
	if c.ReadMode != ReadAuto && c.ReadMode != ReadGoroutine {
		errs = append(errs, errors.New("rushws: Config.ReadMode is not a known mode: use ReadAuto or ReadGoroutine"))
	}
	neg("WriteBufferSize", int64(c.WriteBufferSize))
	if c.SlowConsumer != SlowClose && c.SlowConsumer != SlowDrop {
		errs = append(errs, errors.New("rushws: Config.SlowConsumer is not a known policy"))
	}
	for _, p := range c.Subprotocols {
		if p == "" || !isToken(p) {
			errs = append(errs, fmt.Errorf("rushws: Config.Subprotocols: %q is not a valid token", p))
		}
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.SendQueueMessages == 0 {
		c.SendQueueMessages = DefaultSendQueueMessages
	}
	if c.SendQueueBytes == 0 {
		c.SendQueueBytes = DefaultSendQueueBytes
	}
	if c.SlowConsumerGrace == 0 {
		c.SlowConsumerGrace = DefaultSlowConsumerGrace
	}
	if c.KeepRequestBytes == 0 {
		c.KeepRequestBytes = DefaultKeepRequestBytes
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = DefaultPongTimeout
		if c.PingInterval > 0 && c.PongTimeout <= c.PingInterval {
			c.PongTimeout = 2*c.PingInterval + c.PingInterval/2
		}
	}
	if c.PingInterval > 0 && c.PongTimeout <= c.PingInterval {
		errs = append(errs, errors.New("rushws: Config.PongTimeout must exceed PingInterval"))
	}
	if c.MaxRoomsPerConn == 0 {
		c.MaxRoomsPerConn = DefaultMaxRoomsPerConn
	}
	if c.ReadBufferSize == 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteBufferSize == 0 {
		c.WriteBufferSize = DefaultWriteBufferSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Recovery.Enabled {
		var err error
		if c.Recovery, err = c.Recovery.withDefaults(); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// isToken reports whether s is an HTTP token (RFC 7230), as subprotocol
// names must be.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || isSeparator(b) {
			return false
		}
	}
	return true
}

func isSeparator(b byte) bool {
	switch b {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return true
	}
	return false
}
