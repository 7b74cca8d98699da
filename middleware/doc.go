// Package middleware holds ready-made connection middleware for rushws:
// [JWT] authentication, an [Origin] allowlist, and [RateLimit] for
// handshakes, messages and concurrent connections. Each is a
// core.MiddlewareFunc, used hub-wide or per route like any Echo or Gin
// middleware:
//
//	hub.Use(origin, limit, auth)                           // every route
//	echows.WS(e, "/ws", hub, chat, origin, limit, auth)    // one Echo v4 route
//	echo5ws.WS(e, "/ws", hub, chat, origin, limit, auth)   // one Echo v5 route
//	ginws.WS(r, "/ws", hub, chat, origin, limit, auth)     // one Gin route
//
// Import it under a name that does not collide with the frameworks' own
// middleware packages, which Echo apps import as "middleware":
//
//	import wsmw "github.com/rushws/rushws/middleware"
//
// Refusal errors say what was compared: the Origin received (quoted,
// escaped, cut to 100 bytes) and the allowlist; where a token was looked
// for, or where it came from and why it was refused. They never hold a
// token.
//
// Each is configured with a Config struct in the frameworks' vocabulary
// (Skipper, ErrorHandler, echo-jwt's TokenLookup, SigningKey, ContextKey
// ...), validated once by its constructor, which returns an error rather
// than panicking. Every field documents its default.
//
// The middleware runs before the upgrade, so a refusal is a proper HTTP
// answer with a small JSON body, counted in the hub's Stats().Rejected
// under a reason:
//
//	origin                403, Origin not on the list
//	unauthorized          401, no valid token
//	rate_limited          429 with Retry-After, HandshakeRate exceeded
//	too_many_connections  429, MaxPerKey reached
//
// After the upgrade: a connection whose token expires is closed with 4401
// "token expired"; a message over MessageRate is dropped and answered with
// a "rate_limited" error event, and a connection that keeps flooding is
// closed with 1008 (or 4429) "message rate exceeded". [RateLimiter.Stats]
// counts drops and strike closes.
//
// Order matters. Put Origin first (the cheapest refusal), then RateLimit
// keyed by IP, so floods are refused before a signature is checked, then
// JWT. A RateLimit whose KeyFunc reads the user goes after JWT.
//
// # Concurrency
//
// The middleware functions, and a [RateLimiter] and all its methods, are
// safe for concurrent use: many handshakes run them at once. Their
// configuration is copied by the constructor and never changes after. The
// callbacks a Config holds (Skipper, ErrorHandler, KeyFunc, ParseTokenFunc,
// NewClaimsFunc) are called concurrently from the goroutines of different
// handshakes and must be safe for that. Message limits run as a Conn
// filter on that connection's read goroutine, one message at a time. No
// middleware starts a goroutine: token expiry is a time.AfterFunc timer,
// stopped when the connection closes, and the rate limiter's per-key state
// is swept as handshakes arrive.
//
// # Tokens and access logs
//
// The middleware never logs a token, and its errors name where a token was
// found, never its value. The frameworks' access logs are another matter:
// they print the request URI, query string included, so a token sent as
// ?token=... ends up in log files (and in reverse proxies' logs). Prefer
// the Authorization header for programs and the subprotocol form for
// browsers (new WebSocket(url, ["chat.v1", "bearer." + token])); both are
// in the default TokenLookup. If a query token cannot be avoided, keep it
// out of the logs:
//
//   - Echo: middleware.LoggerWithConfig with a Format that uses ${path}
//     instead of ${uri}, or a Skipper for the WebSocket route;
//     middleware.RequestLoggerWithConfig with LogURIPath rather than LogURI.
//   - Gin: gin.LoggerWithConfig(gin.LoggerConfig{SkipPaths: []string{"/ws"}}),
//     or a Formatter that prints param.Request.URL.Path rather than
//     param.Path (which carries the query).
//
// and make such tokens short-lived, single-use tickets.
//
// # Client IPs and trusted proxies
//
// The rate limiter's default key is the client IP as the framework
// determined it (c.IP()), which is only as trustworthy as the framework's
// proxy settings. By default Echo's RealIP believes X-Forwarded-For and
// X-Real-IP from anyone, and Gin trusts every proxy, so a client can send
// a fresh X-Forwarded-For with each handshake and get a fresh bucket each
// time, or borrow someone else's address to lock them out. Configure the
// framework:
//
//   - Echo: e.IPExtractor = echo.ExtractIPDirect() when clients connect
//     directly; echo.ExtractIPFromXFFHeader(echo.TrustIPRange(proxyNet))
//     behind your own proxy.
//   - Gin: r.SetTrustedProxies(nil) when clients connect directly, or the
//     proxies' addresses; r.TrustedPlatform behind a CDN that sets its own
//     header.
//
// IPv6 clients are keyed by their /64, the block one subscriber usually
// holds.
//
// # Origins behind a reverse proxy
//
// Without the Origin middleware, the hub accepts browsers from the same
// origin only, comparing the Origin header's host with the request's Host.
// A reverse proxy that rewrites Host (nginx's proxy_pass without
// proxy_set_header Host $host, many ingress defaults) makes every browser
// look cross-origin, and every handshake gets 403. Do not fix that by
// accepting every origin: with cookie or other ambient credentials, any
// web page could then open connections as the visitor (cross-site
// WebSocket hijacking). Either forward the Host header, or list the public
// origins with [Origin], which then decides alone for the routes it
// covers.
package middleware
