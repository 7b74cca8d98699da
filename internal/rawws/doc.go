// Package rawws is a WebSocket client written by hand, for tests and load
// tools that must put on the wire what no WebSocket library would send:
// reserved bits, unknown opcodes, oversized or fragmented control frames,
// lengths with the top bit set, invalid UTF-8, bad close codes, the first
// frame in the same packet as the handshake, bytes trickled one at a time.
//
// It speaks only the client side of RFC 6455: it writes the opening
// handshake itself, masks every frame it builds (as a client must, unless
// told not to), and parses the server's unmasked frames one by one without
// interpreting them, so a test sees exactly what the server sent.
//
// # Concurrency
//
// A Conn is not safe for concurrent use, except that one goroutine may
// write while another reads, and Close and Reset may be called from any
// goroutine at any time.
package rawws
