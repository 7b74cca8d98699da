package core

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Conn is one WebSocket connection. Middleware sees it before the upgrade
// (request facts, params, metadata; sends are queued until the upgrade), the
// route handler and event handlers after.
//
// All methods are safe to call from any goroutine. Event handlers of one
// connection run one at a time, in arrival order, on its read goroutine.
//
// While one of its handlers runs (filters, event handlers, the raw
// handler), what is queued for the connection, by the handler or by anyone
// else, is written when the handler returns, by the read goroutine itself:
// a reply then costs no extra goroutine. A slow handler therefore delays its
// own connection's output (and only that): when it runs long and must send
// before it returns, the output still leaves once half the send queue's
// bound is queued. Other connections are never affected.
type Conn struct {
	// Set before the upgrade, read-only once the connection is registered
	// (but url and header, which keepRequest drops under mu).
	hub         *Hub
	id          string
	ip          string
	url         *url.URL    // the request's, until keepRequest
	header      http.Header // the request's, until keepRequest
	kept        string      // the bounded copy keepRequest makes
	host        string
	remoteAddr  string
	params      []Param
	connectedAt int64           // unix nanoseconds
	parentCtx   context.Context // request values, no cancellation

	// Set once at upgrade, before any goroutine of the connection starts.
	wire        *wireConn    // the socket; nil until the upgrade
	poll        *poller      // parks the connection when idle; nil: a read goroutine instead
	subprotocol string       // negotiated by gorilla
	sess        *connSession // the recovery session (recovery.go); nil when recovery is off

	// Atomics, read and written without a lock.
	lastSeen    atomic.Int64 // unix nanoseconds of the last pong or message
	pingSent    atomic.Int64 // unix nanoseconds of the last ping queued, 0 when answered
	writeStart  atomic.Int64 // unix nanoseconds when the write in progress began, 0 when none
	reading     atomic.Bool  // a goroutine owns the read side (always, but while parked)
	dispatching atomic.Bool  // a handler of this connection runs (EmitWithAck would deadlock)
	inRoute     atomic.Bool  // the route handler runs: the reader has not started
	abandon     atomic.Bool  // closing: the writer sends nothing more but the close frame

	// The read side, touched only by the goroutine that owns it (reading).
	rd *msgState // the message in progress when it spans frames or reads; nil between messages

	// Event middleware (eventmw.go): the route's chain, set under mu and
	// read without it; the event being dispatched, read side only.
	evmw   atomic.Pointer[eventChain]
	evName string
	evFn   EventFunc

	// Small fields of the groups above, together so the struct packs.
	originChecked bool  // before the upgrade: set by origin middleware
	registered    bool  // before the upgrade: counted in the hub, set before the reader starts
	shard         uint8 // before the upgrade: heartbeat shard, set at registration under hub.mu
	compress      bool  // at the upgrade: permessage-deflate negotiated
	midDeadline   bool  // read side: a read deadline is set for a frame in progress

	// mu protects the following. Lock order: see close.go.
	mu          sync.Mutex
	closeCode   int
	closeReason string
	closeTimer  *time.Timer // drops the socket when the peer does not answer our close frame
	ctx         context.Context
	cancel      context.CancelFunc
	bag         smallMap[any]
	events      smallMap[eventEntry]
	onMessage   MessageFunc
	onClose     []CloseFunc
	filters     []FilterFunc
	rooms       []string // small: a linear scan beats a map's memory
	acks        map[uint64]AckFunc
	nextAck     uint64
	// The send queue and the writer role.
	queue      []outbound
	spare      []outbound    // the last batch's array, reused by the next
	queued     int           // data messages queued or in flight
	queueBytes int           // bytes of every frame queued or in flight
	writerDone chan struct{} // closed when the running writer exits, made on demand
	resume     chan struct{} // closed to wake the read goroutine paused by pauseIfBehind
	state      connState
	released   bool // Context cancelled and acks failed (afterClosingLocked)
	closedCtx  bool // Context must be born cancelled
	writing    bool // the writer role is taken (a writer goroutine, the flusher or the reader)
	deferWrite bool // the read goroutine is dispatching and writes what is queued afterwards
	warnedSlow bool
}

// Param is one path parameter of the route that accepted the connection.
type Param struct {
	Name  string
	Value string
}

// MessageFunc handles raw frames: binary frames, text that is not an event
// envelope, and events with no handler on this connection. messageType is
// TextMessage or BinaryMessage. data is only valid during the call: the
// connection reuses its memory for later messages, so copy what you keep
// (Send, SendBinary and every Target method copy for you).
type MessageFunc func(c *Conn, messageType int, data []byte) error

// FilterFunc inspects an inbound message before it is dispatched, on the
// read goroutine. Returning nil lets it through; any error drops it: an
// *EventError is sent to the client as an error event, a *CloseError closes
// the connection, and other errors are reported as "internal". Rate limits
// and message policies are filters. data is only valid during the call.
type FilterFunc func(c *Conn, messageType int, data []byte) error

// CloseFunc runs once when a connection has closed, with the close code and
// reason: the peer's, the server's, or 1006 when the connection was lost.
type CloseFunc func(c *Conn, code int, reason string)

// Message types, as in gorilla/websocket.
const (
	TextMessage   = websocket.TextMessage
	BinaryMessage = websocket.BinaryMessage
)

// ID returns the connection's unique, unguessable identifier.
func (c *Conn) ID() string { return c.id }

// IP returns the client IP as the host framework determined it (Echo's
// IPExtractor, Gin's trusted proxies) or, for net/http, the remote address.
func (c *Conn) IP() string { return c.ip }

// UserAgent returns the User-Agent header of the handshake.
func (c *Conn) UserAgent() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headerLocked("User-Agent")
}

// Origin returns the Origin header of the handshake, empty for most
// non-browser clients.
func (c *Conn) Origin() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headerLocked("Origin")
}

// Request returns the handshake request: method, URL with its query,
// headers, Host and RemoteAddr. It has no body and carries the connection's
// Context. Middleware and the route handler see the request as received.
// Once the route handler has returned, the connection keeps only a bounded
// copy (Config.KeepRequestBytes, 4 KiB by default): the URL (its query
// dropped if too long), then Origin, User-Agent and the other headers in
// name order while they fit; the WebSocket handshake headers are not kept.
// Each call builds a new value; do not modify its URL or Header.
func (c *Conn) Request() *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, header := c.requestLocked()
	r := &http.Request{
		Method:     http.MethodGet, // the only method a handshake may use
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Body:       http.NoBody,
		Host:       c.host,
		RemoteAddr: c.remoteAddr,
		RequestURI: u.RequestURI(),
	}
	return r.WithContext(c.contextLocked())
}

// Upgraded reports whether the handshake has completed. Middleware code
// after next uses it to tell a refused handshake from an accepted one.
func (c *Conn) Upgraded() bool { return c.wire != nil }

// Hub returns the hub that owns the connection.
func (c *Conn) Hub() *Hub { return c.hub }

// Param returns the value of the named route parameter, or "" when the
// route has no parameter of that name, as Echo's and Gin's Param do. A name
// the route lacks is usually a typo (c.Param("roomID") on "/ws/:room"), so
// the hub logs it at warn level, once per hub for each name and set of route
// parameters, with the parameters the route has; use Params to look for an
// optional parameter without the warning.
func (c *Conn) Param(name string) string {
	for _, p := range c.params {
		if p.Name == name {
			return p.Value
		}
	}
	c.paramMissing(name)
	return ""
}

// Params returns the route parameters in route order.
func (c *Conn) Params() []Param { return c.params }

// ConnectedAt returns when the handshake arrived.
func (c *Conn) ConnectedAt() time.Time { return time.Unix(0, c.connectedAt) }

// LastSeen returns when the peer last answered a ping or sent a message.
func (c *Conn) LastSeen() time.Time { return time.Unix(0, c.lastSeen.Load()) }

// IsAlive reports whether the connection is open and its peer was seen
// within the hub's PongTimeout. With heartbeats off it reports whether the
// connection is open.
func (c *Conn) IsAlive() bool {
	c.mu.Lock()
	open := c.state == stateOpen
	c.mu.Unlock()
	if !open || c.wire == nil {
		return false
	}
	if c.hub.cfg.PingInterval < 0 {
		return true // no heartbeat: silence says nothing about the peer
	}
	return time.Since(c.LastSeen()) < c.hub.cfg.PongTimeout
}

// Subprotocol returns the negotiated subprotocol, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Context returns a context that carries the handshake request's values and
// is cancelled when the connection begins to close (by either side, by the
// hub's Shutdown or Close, or because the peer was lost), also while the
// route handler still runs. Use it for work started on behalf
// of the connection.
func (c *Conn) Context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.contextLocked()
}

// contextLocked is Context with c.mu held.
func (c *Conn) contextLocked() context.Context {
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithCancel(c.parentCtx)
		if c.closedCtx || c.state == stateClosed {
			c.cancel()
		}
	}
	return c.ctx
}

// Get returns the metadata value stored under key, or nil. Middleware
// stores values here (the JWT middleware's claims under "user").
func (c *Conn) Get(key string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, _ := c.bag.get(key)
	return v
}

// Set stores a metadata value under key.
func (c *Conn) Set(key string, value any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bag.set(key, value)
}

// Delete removes the metadata value stored under key.
func (c *Conn) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bag.del(key)
}

// OnMessage sets the handler for raw frames (see MessageFunc), replacing any
// previous one. A nil fn removes it.
func (c *Conn) OnMessage(fn MessageFunc) {
	c.mu.Lock()
	c.onMessage = fn
	c.mu.Unlock()
}

// Filter adds fn to the filters every inbound message passes before
// dispatch, in the order added. Middleware usually adds filters before next.
func (c *Conn) Filter(fn FilterFunc) {
	c.mu.Lock()
	c.filters = append(c.filters, fn)
	c.mu.Unlock()
}

// OnClose adds a handler run once after the connection closes, after it has
// left its rooms (c.Rooms still names them, so the handler can tell them
// with c.To). Handlers run in the order added, on the read goroutine. Added
// after the close, fn never runs.
func (c *Conn) OnClose(fn CloseFunc) {
	c.mu.Lock()
	if c.state != stateClosed {
		c.onClose = append(c.onClose, fn)
	}
	c.mu.Unlock()
}

// Ping queues a ping now, in addition to the hub's heartbeat.
func (c *Conn) Ping() error {
	if c.wire == nil {
		return ErrNotUpgraded
	}
	c.pingSent.CompareAndSwap(0, time.Now().UnixNano())
	return c.enqueue(pingOut, false)
}

// String returns the connection's ID, for logs.
func (c *Conn) String() string { return c.id }

// MarshalJSON describes the connection for admin endpoints: ID, IP, user
// agent, rooms and times. Metadata is not included.
func (c *Conn) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID          string    `json:"id"`
		IP          string    `json:"ip"`
		UserAgent   string    `json:"userAgent"`
		Rooms       []string  `json:"rooms"`
		ConnectedAt time.Time `json:"connectedAt"`
		LastSeen    time.Time `json:"lastSeen"`
	}{c.id, c.ip, c.UserAgent(), c.Rooms(), c.ConnectedAt(), c.LastSeen()})
}
