// Package core is the framework-agnostic heart of rushws: a Hub of
// WebSocket connections with rooms, events, acks, middleware, stats,
// heartbeats, limits and graceful shutdown. gorilla/websocket does the
// handshake (its checks, subprotocols and the permessage-deflate
// negotiation) and writes the 101 response; from then on core alone reads
// and writes the connection's frames (RFC 6455 and RFC 7692).
//
// Most applications mount a hub through an adapter (package echows or
// ginws); plain net/http uses Hub.Handler:
//
//	hub, err := core.NewHub(core.Config{})
//	if err != nil { ... }
//	mux.Handle("GET /ws/{room}", hub.Handler(func(c *core.Conn) error {
//		if err := c.Join(c.Param("room")); err != nil {
//			return err
//		}
//		return c.On("chat", func(c *core.Conn, data json.RawMessage) (any, error) {
//			_, err := c.To(c.Param("room")).Emit("chat", data)
//			return nil, err
//		})
//	}))
//
// # Lifecycle of a connection
//
// A handshake is validated (400, 405), checked against MaxConnections and
// shutdown (503), then passes the hub's middleware and the route's
// (Hub.Use, then the route's arguments). Middleware runs before the upgrade
// and may refuse with an *HTTPError. The hub then checks the Origin (same
// origin only, unless Config or an origin middleware decides), upgrades,
// runs the route handler once, starts the connection's read goroutine and
// returns from the HTTP handler, keeping nothing of the request but a bounded
// copy of its URL and headers (Config.KeepRequestBytes) and the facts a Conn
// reports. A route handler that blocks holds back its own connection's
// reads, never Shutdown or Close.
//
// # Event middleware
//
// EventMiddlewareFunc wraps event handlers as MiddlewareFunc wraps the
// handshake: hub-wide (Hub.UseEvent), per route (EventMiddleware, or
// Conn.UseEvent from handshake middleware or the route handler, so a route
// of any adapter can set it) and per event (the extra arguments of
// Conn.On, Conn.Once and Handle), run in that order, then the handler. It
// sees the connection, the raw data and the event's name (Conn.Event); it
// runs on the connection's read goroutine, one message at a time, as
// handlers do. Returning ErrForbidden or a *RefusedError refuses the
// event: the sender gets the "forbidden" error event, or the ack's error
// when it asked for one; the handler does not run; Stats.EventsRefused
// counts it by reason and the hub logs it at debug level with the event
// name and the connection ID, never the data. Chains are built once (the
// route's is shared by its connections), so a message costs a few calls
// per middleware and no allocation; without any, the event path is
// unchanged. Raw messages (Conn.OnMessage) and unknown events pass no
// event middleware. Package middleware's authorization rules are both
// handshake and event middleware.
//
// # Subprotocols
//
// Config.Subprotocols lists what the hub selects from a client's offers.
// Middleware may choose one of the client's offers when the list selects
// none (Conn.SetSubprotocol), as the JWT middleware does for a browser
// whose token rides in a subprotocol entry. An upgrade whose client
// offered subprotocols of which none was selected is counted in
// Stats.UnnegotiatedSubprotocols and logged (at warn level the first
// time): browsers fail such a connection at once with 1006.
//
// # Wire protocol
//
// Events are text frames holding {"event":name,"data":...}; an "ack" field
// with a positive integer asks for one reply {"ack":n,"data":...} or
// {"ack":n,"error":{"code":...,"message":...}}, in both directions. Errors
// reach the client as {"event":"error","data":{"code":...,"message":...}}
// with the codes bad_request, unknown_event, forbidden, rate_limited,
// too_large and internal; the connection stays open. Frames that are not
// event envelopes, binary frames, and events without a handler go to the raw
// handler (Conn.OnMessage) when there is one. Invalid UTF-8 text closes the
// connection with 1007, a message over Config.ReadLimit with 1009, a
// handler panic with 1011, a slow consumer with 1008, shutdown with 1001, a
// malformed frame with 1002.
//
// # Connection state recovery
//
// With Config.Recovery on, every connection's first message is the session
// message {"event":"session","data":{"id","token","recovered","reason",
// "missed","positions"}}, and every Emit to a room, to everyone or to a
// connection by ID is kept in a bounded history of its stream and carries
// the top-level "pos" object with the positions it got. A client that
// reconnects with ?rushws_recover=1 and sends {"event":"recover","data":
// {"token","positions"}} first gets back its connection ID, rooms and
// metadata, then the messages it missed, in order and once, before
// anything new; then its route handler runs with Conn.Recovered true.
// Middleware runs on every handshake, recovering or not, and a session
// belongs to the identity middleware established (RecoveryConfig.Identity).
// A failed attempt says why (RecoverExpired, RecoverUnknown,
// RecoverTooFarBehind, RecoverHistoryLost, RecoverForbidden) to the client,
// to RecoveryConfig.OnRecover and in Stats.Recovery, and the connection
// continues as a new one. A recovery takes over a session whose old
// connection the server still holds: that connection is closed with
// CloseSessionMoved (4409), here or on another hub through the broker.
// Histories and sessions live in a RecoveryStore: MemoryStore for a hub
// alone, package redisbroker's Broker for hubs that share Redis. Not kept
// nor replayed: raw and binary sends, Volatile sends, EmitWithAck requests
// (acks in flight are lost with the connection) and Conn.Emit.
//
// # Read modes and goroutines
//
// On Linux, a connection over plain TCP is parked, when it has nothing to
// read, on one epoll poller per hub (Config.ReadMode ReadAuto, the
// default): it holds no goroutine and no buffer. When input arrives, a
// goroutine is started for it; it reads what the socket holds, runs the
// connection's filters, event handlers and raw handler one message at a
// time in arrival order, and parks the connection again once it has
// consumed what was there at a frame boundary. A peer that stops in the
// middle of a frame is closed with 1002 after Config.ReadTimeout. An idle
// connection therefore costs no goroutine.
//
// TLS connections hijacked from the server, other platforms (Windows,
// macOS, the BSDs), and hubs with ReadMode ReadGoroutine give each
// connection one read goroutine for its life, as gorilla/websocket servers
// do; on Linux it waits for input without holding a read buffer. Both modes
// behave the same in every other respect and pass the same tests.
//
// # Concurrency
//
// Hub, Conn and Target methods are safe for concurrent use. Messages of one
// connection are read and handled by one goroutine at a time, in order; a
// connection has at most one write goroutine, which exists only while its
// send queue holds something. The writer
// frames server messages itself and hands every queued frame to the kernel
// in one writev per wake-up; a broadcast is framed once for all members.
//
// Sends never block: they queue. A queue over Config.SendQueueBytes is full,
// and Config.SlowConsumer applies to that connection alone, only when its
// peer's socket has taken nothing for Config.SlowConsumerGrace or the queue
// holds twice its bound; a slow peer gets the frame in flight completed and
// then 1008. While a connection's writer is behind, its reads pause (a
// parked connection is not re-armed), so a client that sends faster than it
// reads is slowed by TCP. Where the flusher's non-blocking writev is not
// available (Windows, FreeBSD), a broadcast starts a writer goroutine per
// idle member instead; writers still hand their queue to the kernel in one
// call (net.Buffers). The close handshake
// and connection states are described in close.go.
// The heartbeat is one hub goroutine for all connections, started with the
// first connection and stopped by Shutdown or Close. With recovery on, one
// more hub goroutine saves changed sessions and refreshes live ones; it
// runs while the hub has connections. The recovery store is called on
// handshake goroutines (reading the recover message, the session, the
// histories) and, for Append, on whatever goroutine sends, within the
// store's own short deadline. Shutdown returns by the
// time its context ends whatever handlers do; after Shutdown or Close
// returns, no goroutine of the hub remains but for route handlers that have
// not returned.
package core
