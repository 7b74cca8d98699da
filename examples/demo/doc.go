// Command demo is the interactive rushws demo: one Echo v4 app serving a
// page with an echo box, a chat with rooms, names, join and leave notices
// and typing indicators, and a live stats panel that charts connections
// and messages per second.
//
// Run it from the module root and open the printed address in a browser,
// in two tabs to chat with yourself:
//
//	go run ./examples/demo
//	go run ./examples/demo -addr 127.0.0.1:0   # any free port
//
// The page loads the JS client (client/rushws.js, served by package client
// at /rushws.js) and connects at once, anonymously: the echo box works
// right away. "Sign in as <name>" gets a short-lived token from the demo's
// own endpoint and reconnects with it, and the chat opens. The page
// reconnects by itself when the connection drops (the client's backoff),
// and what was sent meanwhile goes out once it is back. Connection state
// recovery is on, in the process's memory (a core.MemoryStore): a page
// whose connection dropped gets its room back and every message it missed,
// and says how many; the page rejoins its room only when it was not
// recovered (after a restart, say, since the sessions die with the
// process). Typing indicators are volatile: never replayed. When the token
// expires the server closes with 4401 and the page says so instead of
// retrying.
//
// Routes:
//
//	GET  /               the page (static/index.html and demo.js, embedded)
//	GET  /rushws.js      the JS client
//	POST /api/token      {"name":"ada"} -> {"token","name","expiresAt"}
//	GET  /ws             the WebSocket (subprotocol rushws-demo.v1; a token
//	                     as a second subprotocol entry "bearer.<token>")
//	GET  /api/ws/stats   the hub's counters, polled by the stats panel
//	GET  /api/ws/rooms   the rooms and their member counts
//
// The protocol is declared once, in Go, in protocol.go (package
// github.com/rushws/rushws/protocol): the handlers in chat.go are
// registered from it, and go generate writes static/protocol.d.ts from it
// with cmd/rushws-ts; the page (plain JS, no build step) takes its types
// from that file through JSDoc, and e2e checks it with tsc --checkJs.
//
// Events on /ws: "echo" (anyone; the ack reply is the data), and for
// signed-in users "join" {"room"} (ack: the room and its members' names),
// "chat" {"text"} and "typing" {"typing":bool}. The server emits "hello"
// {"id","name"} on connect (not on a recovered connection, which had it),
// and "joined", "left", "chat" and "typing" to the room.
//
// Deployed as an operator would: the WebSocket route sits behind an origin
// allowlist (the printed address and its localhost twin, plus -origin),
// a rate limit and the JWT middleware; Echo takes the client IP from the
// connection (e.IPExtractor = echo.ExtractIPDirect(); put a trusted-proxy
// extractor there behind a proxy); the HTTP server has header, idle and
// size limits; SIGINT or SIGTERM shuts the hub down (1001 to every
// client) before the HTTP server. The stats endpoints are public here;
// protect them in a real app.
//
// The token signing key is random per process, so tokens die with it,
// unless RUSHWS_DEMO_KEY (or -key-env naming another variable) holds at
// least 32 bytes: then tokens survive a restart. Flags:
//
//	-addr        address to listen on (default 127.0.0.1:8080)
//	-origin      extra allowed origins, comma-separated
//	-token-ttl   lifetime of the tokens the page gets (default 15m)
//	-key-env     environment variable holding the signing key
//	             (default RUSHWS_DEMO_KEY)
package main
