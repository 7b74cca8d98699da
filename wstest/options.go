package wstest

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// defaultTimeout is how long Dial and each Expect call wait when no
// WithTimeout option is given: long enough for a loaded CI machine, short
// enough that a missing message fails the test quickly.
const defaultTimeout = 2 * time.Second

// An Option adjusts one dial. Options are per call, so tests can dial the
// same server as different users without sharing any state.
type Option func(*options)

type options struct {
	header    http.Header
	protocols []string
	timeout   time.Duration
	dialer    *websocket.Dialer
}

func newOptions(opts []Option) options {
	o := options{header: http.Header{}, timeout: defaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithHeader adds h to the handshake request, so a test can send the
// cookies, tokens or other headers the server checks before upgrading.
func WithHeader(h http.Header) Option {
	return func(o *options) {
		for k, vs := range h {
			for _, v := range vs {
				o.header.Add(k, v)
			}
		}
	}
}

// WithOrigin sets the Origin header of the handshake request, because
// origin checks are the most common reason a server refuses a browser.
func WithOrigin(origin string) Option {
	return func(o *options) { o.header.Set("Origin", origin) }
}

// WithSubprotocols offers the given subprotocols in the handshake, so a test
// can check which one the server picks (see [websocket.Conn.Subprotocol]).
// It replaces any subprotocols set on a dialer given by [WithDialer].
func WithSubprotocols(protocols ...string) Option {
	return func(o *options) { o.protocols = protocols }
}

// WithTimeout sets how long the handshake of [Dial] and each Expect call
// wait before failing the test, so slow scenarios can wait longer and
// negative tests can fail fast. Non-positive values keep the default of 2s.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithDialer dials with a copy of d instead of a zero [websocket.Dialer], as
// an escape hatch for TLS settings, compression, buffer sizes or a custom
// network dialer. The zero Dialer used by default does not use a proxy.
func WithDialer(d *websocket.Dialer) Option {
	return func(o *options) { o.dialer = d }
}
