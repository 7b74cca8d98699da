package core

import (
	"net"
	"syscall"
)

// sock is the plain socket beneath a connection, for the reads and writes
// net.Conn cannot do: non-blocking reads and writes, waiting for input
// without a buffer, and registration with the poller. A TLS connection has
// none (raw is nil) and is read and written through net.Conn alone.
type sock struct {
	raw  syscall.RawConn // nil when the connection is not a plain socket
	fd   int             // the socket's descriptor, while raw is set
	peek bool            // non-blocking reads work (Linux): readNow and waitReadable
}

// init finds the socket beneath conn.
func (s *sock) init(conn net.Conn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	fd := -1
	if raw.Control(func(d uintptr) { fd = int(d) }) != nil || fd < 0 {
		return
	}
	s.raw, s.fd, s.peek = raw, fd, canReadNow
}
