package core

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
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
// headers in name order, each value kept while it fits. Every string is
// copied, so nothing of the request's own buffers stays reachable.
func (c *Conn) keepRequest() {
	budget := c.hub.cfg.KeepRequestBytes
	c.mu.Lock()
	defer c.mu.Unlock()
	src, hdr := c.url, c.header
	u := &url.URL{Path: strings.Clone(src.Path), RawPath: strings.Clone(src.RawPath), RawQuery: strings.Clone(src.RawQuery)}
	if len(u.Path)+len(u.RawPath)+len(u.RawQuery) > budget {
		u.RawQuery = ""
	}
	if len(u.Path)+len(u.RawPath) > budget {
		u.Path, u.RawPath = cutUTF8(u.Path, budget), ""
	}
	budget -= len(u.Path) + len(u.RawPath) + len(u.RawQuery)
	if len(c.host) > 256 {
		c.host = cutUTF8(c.host, 256)
	}
	c.host = strings.Clone(c.host)
	c.remoteAddr = strings.Clone(c.remoteAddr)

	names := make([]string, 0, len(hdr))
	for name := range hdr {
		if !handshakeOnly[name] && name != "Origin" && name != "User-Agent" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	names = append([]string{"Origin", "User-Agent"}, names...)
	kept := make(http.Header, min(len(names), 8))
	for _, name := range names {
		for _, v := range hdr[name] {
			cost := len(name) + len(v)
			if cost > budget {
				continue
			}
			budget -= cost
			kept[name] = append(kept[name], strings.Clone(v))
		}
	}
	c.url, c.header = u, kept
}

// cutUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xC0 {
		s = s[:len(s)-1]
	}
	return s
}
