// Command admin is role-based access the rushws way: a chat whose
// moderators may delete messages and whose admins may broadcast
// announcements, and an admin route only admins and moderators may open.
// Authorization is declared once, as middleware, instead of being checked
// by hand in every handler.
//
// Run it from the module root:
//
//	go run ./examples/admin
//	go run ./examples/admin -addr 127.0.0.1:0   # any free port
//
// The signing key comes from JWT_SECRET (at least 32 bytes) or, when it is
// unset, is random for this run.
//
// Routes:
//
//	GET /api/token?user=NAME   a demo token for alice (admin), mia
//	                           (moderator) or bob (user); a real app checks
//	                           credentials here
//	GET /ws/chat               the chat (any valid token)
//	GET /admin/ws/monitor      admins and moderators only
//	GET /api/ws/stats          the hub's counters, refusals included (loopback only)
//
// Tokens travel in the Authorization header (programs) or as a
// "bearer."+token subprotocol entry beside the app's own (browsers:
// new WebSocket(url, ["chat.v1", "bearer." + token])). Both WebSocket routes
// are browser routes, so a refusal is an accepted connection closed with
// 4401 (no valid token) or 4403 (not allowed), which a page can read and
// the JS client does not retry.
//
// On /ws/chat, {"event":"chat","data":{"text"}} goes to everyone as
// "chat" {"id","from","text"}; "moderate" {"id","action":"delete"} needs
// the "moderate" permission and tells everyone "message-deleted";
// "admin-broadcast" {"text"} needs the "broadcast" permission and sends
// everyone "admin-announcement". A user without the permission gets the
// "forbidden" error (or ack error), and nothing else happens. On
// /admin/ws/monitor, the connection gets "admin-welcome" with its
// permissions and "admin-stats" with the hub's counters.
//
// The order in which everything runs: Echo's middleware, then the route's
// handshake middleware (JWT, then the role rule on the admin route), the
// upgrade, and for each message the hub's event middleware (hub.UseEvent:
// an audit log of events, without their data), then the event's own (the
// permission rules), then the handler.
package main
