package main

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The fan-out subscribers and the echo clients are read by one epoll loop
// instead of a goroutine each, so the load generator spends about one read
// system call per delivery (no goroutine wake-up, no read that only returns
// EAGAIN) and stays cheaper than the server it measures. The loop's epoll
// descriptor is itself waited on through Go's poller, so the loop never
// blocks a thread the publisher needs.

// esub is one connection served by the epoll loop.
type esub struct {
	fd    int
	pend  []byte // bytes of an incomplete frame
	slow  bool
	warm  atomic.Bool
	dead  bool
	sentT int64 // echo: when the request in flight was sent
}

type epoller struct {
	epfd    int
	f       *os.File
	rc      syscall.RawConn
	mu      sync.Mutex
	subs    map[int]*esub
	rbuf    []byte
	events  []syscall.EpollEvent
	onFrame func(s *esub, op int, p []byte)
	dead    atomic.Int64
	stop    atomic.Bool
	done    chan struct{}
}

func newEpoller(onFrame func(s *esub, op int, p []byte)) (*epoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &epoller{epfd: epfd, f: f, rc: rc, subs: make(map[int]*esub), rbuf: make([]byte, 64<<10),
		events: make([]syscall.EpollEvent, 256), onFrame: onFrame, done: make(chan struct{})}, nil
}

// adopt takes c's socket out of Go's poller and into this loop.
func (p *epoller) adopt(c *wsConn, slow bool) (*esub, error) {
	sc, err := c.nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var derr error
	if err := sc.Control(func(raw uintptr) { fd, derr = syscall.Dup(int(raw)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	s := &esub{fd: fd, slow: slow}
	if n := c.br.Buffered(); n > 0 { // frames that came with the handshake
		b, _ := c.br.Peek(n)
		s.pend = append(s.pend, b...)
	}
	_ = c.nc.Close() // the duplicate keeps the socket open
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.subs[fd] = s
	p.mu.Unlock()
	return s, nil
}

// watch starts or resumes reading s.
func (p *epoller) watch(s *esub) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(s.fd)}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev)
}

// pause stops reading s: its peer's window fills and the server sees a
// consumer that does not read.
func (p *epoller) pause(s *esub) { _ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil) }

func (p *epoller) run() {
	defer close(p.done)
	for !p.stop.Load() {
		err := p.rc.Read(func(uintptr) bool {
			for !p.stop.Load() {
				n, err := syscall.EpollWait(p.epfd, p.events, 0)
				if err == syscall.EINTR {
					continue
				}
				if err != nil || n <= 0 {
					return false // wait for the epoll descriptor to be readable
				}
				p.mu.Lock()
				for i := range n {
					if s := p.subs[int(p.events[i].Fd)]; s != nil {
						p.readOnce(s)
					}
				}
				p.mu.Unlock()
			}
			return true
		})
		if err != nil && !p.stop.Load() && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
}

// close stops the loop and closes every connection.
func (p *epoller) close() {
	p.stop.Store(true)
	_ = p.f.SetReadDeadline(time.Now())
	<-p.done
	p.mu.Lock()
	for fd := range p.subs {
		_ = syscall.Close(fd)
	}
	clear(p.subs)
	p.mu.Unlock()
	_ = p.f.Close()
}

func (p *epoller) kill(s *esub) {
	if s.dead {
		return
	}
	s.dead = true
	p.dead.Add(1)
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
}

// readOnce reads what one ready socket holds (up to 64 KiB; level-triggered
// epoll reports it again when more is left) and handles complete frames.
func (p *epoller) readOnce(s *esub) {
	n, err := syscall.Read(s.fd, p.rbuf)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil || n == 0 {
		p.kill(s)
		return
	}
	data := p.rbuf[:n]
	if len(s.pend) > 0 {
		s.pend = append(s.pend, data...)
		data = s.pend
	}
	rest, err := p.frames(s, data)
	if err != nil {
		p.kill(s)
		return
	}
	s.pend = append(s.pend[:0], rest...)
}

// frames handles every complete frame of data and returns the remainder.
func (p *epoller) frames(s *esub, data []byte) ([]byte, error) {
	for len(data) >= 2 {
		op := int(data[0] & 0x0f)
		n := uint64(data[1] & 0x7f)
		h := 2
		switch n {
		case 126:
			if len(data) < 4 {
				return data, nil
			}
			n, h = uint64(binary.BigEndian.Uint16(data[2:])), 4
		case 127:
			if len(data) < 10 {
				return data, nil
			}
			n, h = binary.BigEndian.Uint64(data[2:]), 10
		}
		if data[1]&0x80 != 0 || n > 1<<24 {
			return nil, errors.New("bad frame from server")
		}
		if uint64(len(data)-h) < n {
			return data, nil
		}
		payload := data[h : h+int(n)]
		data = data[h+int(n):]
		switch op {
		case opPing:
			_ = writeFrame(s.fd, opPong, payload)
		case opPong:
		case opClose:
			return nil, io.EOF
		default:
			p.onFrame(s, op, payload)
		}
	}
	return data, nil
}

// writeFrame writes one masked frame (zero key) to a non-blocking socket.
// The frames written here are small and a socket's send buffer is empty
// enough for them; a short write is reported as an error.
func writeFrame(fd int, op int, p []byte) error {
	var b [14 + 512]byte
	if len(p) > 512 {
		return errors.New("frame too large for writeFrame")
	}
	b[0] = 0x80 | byte(op)
	h := 2
	if len(p) < 126 {
		b[1] = 0x80 | byte(len(p))
	} else {
		b[1] = 0x80 | 126
		binary.BigEndian.PutUint16(b[2:], uint16(len(p)))
		h = 4
	}
	h += 4 // zero mask key
	m := h + copy(b[h:], p)
	n, err := syscall.Write(fd, b[:m])
	if err == nil && n != m {
		err = io.ErrShortWrite
	}
	return err
}
