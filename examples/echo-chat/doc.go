// Command echo-chat is a chat with rooms, served by Echo v4 with rushws
// mounted through the echows adapter.
//
// Run it from the module root and open the printed address in a browser:
//
//	go run ./examples/echo-chat
//	go run ./examples/echo-chat -addr 127.0.0.1:0   # any free port
//
// Routes:
//
//	GET /               the chat page (index.html, embedded)
//	GET /rushws.js      the JS client the page imports (package client)
//	GET /ws/:room       the WebSocket; ?name= sets the display name
//	GET /api/ws/stats   the hub's counters as JSON
//	GET /api/ws/rooms   the rooms and their member counts as JSON
//
// On the WebSocket, a connection joins the room named in its URL and the
// room gets {"event":"joined","data":{"name","room","members"}}. A client
// sends {"event":"chat","data":{"text":"..."}} (with "ack":n to get
// {"ack":n,"data":{"ok":true}} back) and the whole room, sender included,
// gets {"event":"chat","data":{"name","text","at"}}. When it leaves, the
// room gets "left".
//
// It is deployed as a server facing the internet should be: the HTTP
// server has ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout and
// MaxHeaderBytes (WebSockets are hijacked after the handshake and outlive
// those timeouts), and client IPs are the peer address, never a spoofable
// X-Forwarded-For (newApp says what to change behind a reverse proxy).
// SIGINT or SIGTERM closes every WebSocket with 1001, then stops HTTP,
// each step waiting up to 10 seconds.
//
// The chat itself, shared with echo5-chat and gin-chat, is package
// examples/internal/chat; this command only wires it into its framework.
package main
