// Package middleware holds ready-made connection middleware for rushws:
// [JWT] authentication, an [Origin] allowlist, [RateLimit] for
// handshakes, messages and concurrent connections, [CloseOnExpiry] for
// tokens the framework verified, and authorization rules over verified
// claims ([RequireRole] and its kin, handshake and event middleware both).
// Each is a core.MiddlewareFunc, used hub-wide or per route like any Echo or Gin
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
//	unauthorized          401, no valid token (or, for a rule, no claims)
//	forbidden             403, an authorization rule said no
//	subprotocol           400, the token was the only subprotocol offered
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
// JWT, then the authorization rules. A RateLimit whose KeyFunc reads the
// user goes after JWT.
//
// # Authorization
//
// A [Rule] checks the verified claims a connection carries: [RequireRole],
// [RequireAnyRole], [RequireScope], [RequirePermission] and
// [RequireClaims] (a predicate), or the same methods of an [Authorizer]
// whose [AuthzConfig] names the claims ("roles", "scope" with "scp" as a
// fallback, "permissions"; an array of strings or a space-separated
// string, as OAuth writes scopes) and where the claims are (ContextKey
// "user": the JWT middleware's *jwt.Token, echo-jwt's, or a Gin key holding
// jwt.MapClaims, a map or a claims struct). A rule is both kinds of
// middleware: Rule.Handshake refuses a handshake with 403 (401 without
// claims) before the upgrade, or with CloseOnFailure closes it with 4403
// (4401) after; Rule.Event refuses an event with "forbidden" (or the ack's
// error), counted in Stats().EventsRefused under core.RefuseRole,
// RefuseScope, RefusePermission, RefuseClaims or RefuseUnauthenticated.
// Everything runs in this order: the framework's middleware, hub.Use, the
// route's middleware, the upgrade, then for each message hub.UseEvent, the
// route's event middleware (core.EventMiddleware), the event's own, and
// the handler.
//
// # Tokens verified by the framework
//
// The JWT middleware closes a connection with 4401 "token expired" when
// its token expires. Where the framework verified the token (echo-jwt in
// an Echo group, a Gin auth middleware), [CloseOnExpiry] does the same
// from the claims it left on the context.
//
// # Browsers
//
// A browser sees a refused handshake only as 1006 and cannot tell an
// expired token from a network failure. On routes browsers use, set
// JWTConfig.CloseOnFailure, AuthzConfig.CloseOnFailure and
// ExpiryConfig.CloseOnFailure: the refusal becomes an accepted connection
// closed with 4401 or 4403 and the reason, which the page can read and the
// JS client does not retry. A browser that sends its token as a
// subprotocol entry gets the app's own protocol selected for it (see
// JWTConfig.SubprotocolPrefix).
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
