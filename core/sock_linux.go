//go:build linux

package core

import (
	"io"

	"golang.org/x/sys/unix"
)

// canReadNow says plain sockets take non-blocking reads here.
const canReadNow = true

// readNow reads what the socket holds without waiting: 0 and no error when
// it holds nothing.
func (s *sock) readNow(p []byte) (int, error) {
	var n int
	var errno error
	err := s.raw.Read(func(fd uintptr) bool {
		n, errno = unix.Read(int(fd), p)
		return true // never wait: an empty socket ends the burst
	})
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
