// Command soak runs rushws under continuous churn and faults on loopback,
// bounded in time and connection count, and checks what users rely on:
//
//   - every healthy client receives every message sent to it while it was
//     connected (room broadcasts and direct sends, numbered), in order,
//     exactly once;
//   - slow consumers (1% of clients, which stop reading) are handled by the
//     slow-consumer policy and counted, and no healthy client is ever
//     called slow;
//   - clients that reset their TCP connection (1%) leave no trace;
//   - goroutines and heap return to their baseline once everyone has left;
//   - the hub's Stats add up (accepted = closed + live, rooms back to 0,
//     every close code counted once).
//
// With -redis it runs two hubs sharing a private redis-server (started on
// its own port) through package redisbroker and restarts Redis halfway
// through: local delivery must stay exact, remote delivery stays ordered and
// loses only what the outage window explains.
//
// With -ladder it runs the scale ladder instead: idle connections up to the
// descriptor limit, then room fan-out at rising rates until the p99
// delivery latency passes 100 ms, against a server in a child process.
//
// Usage:
//
//	go run ./cmd/soak -short             # about 60 s, for CI
//	go run ./cmd/soak -duration 10m      # the full soak
//	go run ./cmd/soak -duration 10m -redis
//	go run ./cmd/soak -ladder
//
// Everything dials 127.0.0.0/8 only (source addresses 127.0.0.2 to
// 127.0.0.254, so many connections do not run out of ports); the command
// stops by itself and exits non-zero when a check fails.
package main
