//go:build !linux

package core

import "errors"

// pollerSupported says this platform has no poller: every connection keeps
// a read goroutine.
const pollerSupported = false

// poller is not available here; newPoller always fails.
type poller struct{}

func newPoller(*Hub) (*poller, error) { return nil, errors.New("rushws: no poller on this platform") }
func (p *poller) add(*Conn) error     { return errors.New("rushws: no poller on this platform") }
func (p *poller) arm(*Conn) error     { return nil }
func (p *poller) forget(*Conn)        {}
func (p *poller) stop()               {}
