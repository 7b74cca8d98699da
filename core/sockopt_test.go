//go:build !windows

package core_test

import "syscall"

// setRecvBuf sets a socket's receive buffer size.
func setRecvBuf(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
