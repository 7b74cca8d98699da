//go:build linux

package core

import (
	"io"

	"golang.org/x/sys/unix"
)

// canReadNow says plain sockets take non-blocking reads here.
const canReadNow = true

// nowRead is the state of a non-blocking read and the function
// RawConn.Read runs, made once per burst rather than per read.
type nowRead struct {
	p     []byte
	n     int
	errno error
	fn    func(fd uintptr) bool
}

func (r *nowRead) init() {
	r.fn = func(fd uintptr) bool {
		r.n, r.errno = unix.Read(int(fd), r.p)
		return true // never wait: an empty socket ends the burst
	}
}

// readNow reads what the socket holds without waiting: 0 and no error when
// it holds nothing.
func (s *sock) readNow(r *nowRead, p []byte) (int, error) {
	r.p = p
	err := s.raw.Read(r.fn)
	n, errno := r.n, r.errno
	r.p, r.errno = nil, nil
	switch {
	case err != nil:
		return 0, err
	case errno == unix.EAGAIN || errno == unix.EINTR:
		return 0, nil
	case errno != nil:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// waitReadable blocks until the socket has input (or has ended), holding
// no buffer: a peek of one byte tells, without taking it.
func (s *sock) waitReadable() error {
	if !s.peek {
		return nil
	}
	var b [1]byte
	return s.raw.Read(func(fd uintptr) bool {
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return err != unix.EAGAIN && err != unix.EINTR
	})
}
