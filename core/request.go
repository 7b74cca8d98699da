package core

import (
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rushws/rushws/internal/quote"
)

// handshakeOnly are the request headers that mean nothing once the
// connection is upgraded; they are not kept.
var handshakeOnly = map[string]bool{
	"Connection": true, "Upgrade": true, "Sec-Websocket-Key": true, "Sec-Websocket-Version": true,
	"Sec-Websocket-Extensions": true, "Content-Length": true, "Transfer-Encoding": true,
}

// keepRequest replaces the connection's view of its handshake request by a
// bounded copy, once middleware and the route handler have seen the whole
// request: a client must not decide how much memory its connection holds
// for its lifetime (a 900 KB query or 900 headers of 1 KB would otherwise be
// kept). The budget is Config.KeepRequestBytes: the URL first (without its
// query when URL and query together exceed the budget, and cut to the budget
// when the path alone does), then Origin and User-Agent, then the other
// headers in name order, each value kept while it fits.
//
// The copy is one string of length-prefixed parts rather than a URL and a
// header map: an idle connection then holds a few dozen bytes for it, not
// several hundred. Request, UserAgent and Origin read it back.
func (c *Conn) keepRequest() {
	budget := c.hub.cfg.KeepRequestBytes
	c.mu.Lock()
	defer c.mu.Unlock()
	path, rawPath, query := c.url.Path, c.url.RawPath, c.url.RawQuery
	if len(path)+len(rawPath)+len(query) > budget {
		query = ""
	}
	if len(path)+len(rawPath) > budget {
		path, rawPath = quote.Cut(path, budget), ""
	}
	budget -= len(path) + len(rawPath) + len(query)
	c.host = strings.Clone(quote.Cut(c.host, 256))
	c.remoteAddr = strings.Clone(c.remoteAddr)

	hdr := c.header
	names := make([]string, 0, len(hdr))
	for name := range hdr {
		if !handshakeOnly[name] && name != "Origin" && name != "User-Agent" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	names = append([]string{"Origin", "User-Agent"}, names...)
	b := make([]byte, 0, 64)
	b = appendPart(appendPart(appendPart(b, path), rawPath), query)
	for _, name := range names {
		for _, v := range hdr[name] {
			cost := len(name) + len(v)
			if cost > budget {
				continue
			}
			budget -= cost
			b = appendPart(appendPart(b, name), v)
		}
	}
	c.kept = string(b)
	c.url, c.header = nil, nil
}

// appendPart appends s with its length before it.
func appendPart(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// nextPart returns the first part of kept and the rest.
func nextPart(kept string) (part, rest string) {
	n, w := binary.Uvarint([]byte(kept[:min(len(kept), binary.MaxVarintLen64)]))
	if w <= 0 || uint64(len(kept)-w) < n {
		return "", ""
	}
	return kept[w : w+int(n)], kept[w+int(n):]
}

// requestLocked returns the handshake's URL and headers: the request's own
// until keepRequest, the kept copy after. c.mu is held.
func (c *Conn) requestLocked() (*url.URL, http.Header) {
	if c.url != nil {
		return c.url, c.header
	}
	u := &url.URL{}
	rest := c.kept
	u.Path, rest = nextPart(rest)
	u.RawPath, rest = nextPart(rest)
	u.RawQuery, rest = nextPart(rest)
	h := make(http.Header)
	for rest != "" {
		var name, v string
		name, rest = nextPart(rest)
		v, rest = nextPart(rest)
		h[name] = append(h[name], v)
	}
	return u, h
}

// headerLocked returns the first value of a request header, from the
// request or the kept copy. c.mu is held.
func (c *Conn) headerLocked(name string) string {
	if c.url != nil {
		return c.header.Get(name)
	}
	_, rest := nextPart(c.kept)
	_, rest = nextPart(rest)
	_, rest = nextPart(rest)
	for rest != "" {
		var n, v string
		n, rest = nextPart(rest)
		v, rest = nextPart(rest)
		if n == name {
			return v
		}
	}
	return ""
}

// How much of a client's input core quotes in errors and logs (see
// package internal/quote): names and header values, and request paths.
const (
	maxQuoted     = 64
	maxLoggedPath = 128
)
