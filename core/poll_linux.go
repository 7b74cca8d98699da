//go:build linux

package core

import (
	"errors"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The poller parks idle connections: one epoll instance and one goroutine
// per hub watch every parked socket, so a connection with nothing to read
// holds no goroutine and no buffer. Each socket is registered one-shot:
// when it becomes readable the poller hands it to a new goroutine, which
// reads and dispatches what arrived (readReady) and re-arms it once it has
// consumed what was there, at a frame boundary. Between the event and the
// re-arm nobody else can be woken for it, so its messages are read by one
// goroutine at a time, in order.
//
// Go's runtime keeps its own registration of the socket (for the writer's
// and the reader's blocking calls); a socket may sit in both epoll sets.
// Closing a socket removes it from both.

// pollerSupported says this platform has the poller.
const pollerSupported = true

// poller is a hub's epoll instance and the goroutine that waits on it.
type poller struct {
	epfd int
	file *os.File        // epfd, so Go's netpoller can wait on it
	raw  syscall.RawConn // file's
	done chan struct{}

	mu    sync.Mutex
	conns []*Conn // parked or reading connections, by socket descriptor

	ctlMu   sync.RWMutex // held (shared) by registrations, so stop cannot close epfd under one
	stopped bool         // guarded by ctlMu
}

// errPollerStopped refuses registrations once the hub has stopped.
var errPollerStopped = errors.New("rushws: poller stopped")

// pollEvents is what a parked socket is watched for: input or its end,
// once.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// newPoller creates the epoll instance and starts its goroutine.
func newPoller(h *Hub) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// The poller waits in Go's own netpoller, on the epoll descriptor
	// itself (an epoll instance is readable while it has events): a
	// blocking epoll_wait would hold the runtime's P until sysmon took it
	// back, delaying the readers it starts by up to milliseconds.
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	f := os.NewFile(uintptr(epfd), "rushws-epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	p := &poller{epfd: epfd, file: f, raw: raw, done: make(chan struct{})}
	go p.run(h)
	return p, nil
}

// run waits for readable sockets and starts a reader for each, until the
// epoll descriptor is closed.
func (p *poller) run(h *Hub) {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	var n int
	var werr error
	wait := func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), events, 0)
		return n > 0 || werr != nil && werr != unix.EINTR && werr != unix.EAGAIN
	}
	for {
		if err := p.raw.Read(wait); err != nil {
			return // closed by stop
		}
		if werr != nil {
			h.log.Error("rushws: poller failed; parked connections are no longer read", "err", werr)
			return
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			p.mu.Lock()
			var c *Conn
			if fd < len(p.conns) {
				c = p.conns[fd]
			}
			p.mu.Unlock()
			if c != nil && c.reading.CompareAndSwap(false, true) {
				go c.readReady()
			}
		}
	}
}

// add registers c's socket, parked. If it is readable already, the poller
// reports it at once.
func (p *poller) add(c *Conn) error {
	s := &c.wire.sock
	p.mu.Lock()
	if s.fd >= len(p.conns) {
		p.conns = append(p.conns, make([]*Conn, s.fd+1-len(p.conns)+len(p.conns)/4)...)
	}
	p.conns[s.fd] = c
	p.mu.Unlock()
	return p.ctl(c, unix.EPOLL_CTL_ADD)
}

// arm re-arms c's socket after a burst of reading, registering it when it
// was read before it was ever parked (frames in the handshake's packet).
func (p *poller) arm(c *Conn) error {
	err := p.ctl(c, unix.EPOLL_CTL_MOD)
	if errors.Is(err, unix.ENOENT) {
		return p.add(c)
	}
	return err
}

// ctl changes c's registration while holding its socket open, so the
// descriptor cannot be closed and reused by another connection meanwhile.
func (p *poller) ctl(c *Conn, op int) error {
	p.ctlMu.RLock()
	defer p.ctlMu.RUnlock()
	if p.stopped {
		return errPollerStopped
	}
	var err error
	cerr := c.wire.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: pollEvents, Fd: int32(fd)}
		err = unix.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// forget drops c from the table once it has finished.
func (p *poller) forget(c *Conn) {
	fd := c.wire.sock.fd
	p.mu.Lock()
	if fd < len(p.conns) && p.conns[fd] == c {
		p.conns[fd] = nil
	}
	p.mu.Unlock()
}

// stop ends the poller's goroutine and closes the epoll instance. Every
// connection has finished by then.
func (p *poller) stop() {
	p.ctlMu.Lock()
	p.stopped = true
	p.ctlMu.Unlock()
	_ = p.file.Close() // ends run's wait
	<-p.done
}
