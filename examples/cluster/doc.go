// Command cluster is the chat example scaled out: run it twice, on two
// ports, against one Redis, and a room's members chat whichever instance
// they reached.
//
//	go run ./examples/cluster -addr 127.0.0.1:8081 -redis 127.0.0.1:6379
//	go run ./examples/cluster -addr 127.0.0.1:8082 -redis 127.0.0.1:6379
//
// Open http://127.0.0.1:8081/?room=lobby in one tab and
// http://127.0.0.1:8082/?room=lobby in another. Each instance's hub has a
// redisbroker.Broker: what one hub sends to a room is published once to
// Redis and delivered by every hub to its own members.
//
// Connection state recovery is on, with the broker (Redis) as its store: a
// tab whose connection drops reconnects, on either instance, with its ID and
// room, and gets every message it missed, once and in order; the route
// handler joins the room only when the connection was not recovered.
//
// The member counts in the page's join and leave notices are this
// instance's (the shared chat code asks hub.Room); /api/ws/presence gives
// the room's total across instances.
//
// Routes: the page at /, the WebSocket at /ws/{room}, the JS client at
// /rushws.js, the hub's stats (with the broker's counters under "broker")
// at /api/ws/stats, this instance's rooms at /api/ws/rooms, the room's
// members on every instance at /api/ws/presence?room=NAME, readiness at
// /readyz and the broker's health (Redis answers, subscriber connected) at
// /api/ws/broker.
//
// browser.sh runs two instances and drives them in Chromium (browser.mjs):
// a tab on each chats with the other.
//
// Without Redis the command exits with an error naming the address: an
// instance that silently served only its own clients would split every
// room.
package main
