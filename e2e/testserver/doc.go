// Command testserver is the rushws server that the end-to-end tests in e2e/
// drive with non-browser clients: the JS client under Node's test runner,
// the npm ws package and wscat. It is not an example; it exposes what
// those tests need to see from outside (acks both ways, raw and binary
// frames, error events, chosen close codes, JWT closes).
//
//	go build -o /tmp/testserver ./e2e/testserver
//	/tmp/testserver -addr 127.0.0.1:0    # prints "listening on http://..."
//
// Routes:
//
//	GET /ws            events: "echo" (the ack reply is the data), "ask"
//	                   (the server asks the client "question" with an ack
//	                   and emits "answer" with the reply), "fail" (an ack
//	                   error with the code asked for), "bye" (the server
//	                   closes with {"code","reason"}), "boom" (a handler
//	                   panic: 1011), "sleep" (replies after that many ms),
//	                   "join" and "shout" (a room broadcast);
//	                   other frames, text or binary, are echoed as they came
//	GET /ws/strict     "echo" only; no raw handler, so other frames get
//	                   bad_request or unknown_event error events
//	GET /ws/auth       as /ws behind middleware.JWT (HS256, -jwt-key,
//	                   CloseOnFailure: 4401 with the reason)
//	GET /ws/recovery   on a second hub with connection state recovery on
//	                   (in memory): joins ?room= (default "r") unless the
//	                   connection recovered; "echo", and "say" (relayed to
//	                   the room as "said"; the ack reply is true). Its
//	                   first message is the session message, not welcome
//	GET /ws/auth/users as /ws/auth, but a removed user is closed with 4401
//	                   "user removed"; attempts counted per ?client=
//	GET /ws/auth/strict  as /ws behind middleware.JWT without
//	                   CloseOnFailure: 401 before the upgrade (a browser sees
//	                   1006); attempts counted per ?client=
//	POST /users/remove ?sub=name: close that user's connections with 4401
//	                   "user removed" and refuse it on /ws/auth/users from
//	                   now on (GET /token still issues its tokens)
//	GET /api/attempts  ?client=name: {"attempts":n}, its handshakes on the
//	                   counting routes
//	GET /auth.html     an empty page for the Chromium auth tests
//	GET /ws/recovery/auth  as /ws/recovery behind middleware.JWT reading
//	                   ?token= (CloseOnFailure: 4401 with the reason)
//	GET /token         ?sub=name&ttl=2s: a token for /ws/auth
//	GET /api/ws/stats  the hub's counters
//	GET /api/ws/recovery/stats  the recovery hub's counters
//	GET /rushws.js     the JS client (package client)
//	GET /app/          with -app-dir DIR: the files in DIR (a built
//	                   frontend; e2e/package.sh serves e2e/vite's build)
//
// Every connection of the main hub gets {"event":"welcome","data":{"id":...}} first. The
// hub negotiates the subprotocol "e2e.v1" and reads at most 64 KiB per
// message. SIGINT or SIGTERM shuts the hubs down (1001) and exits 0.
//
// # Concurrency
//
// The handlers run on the hub's goroutines as core documents; the only
// state of the program's own, the removed users and the attempt counts,
// sits under one mutex.
package main
