package metrics

import (
	"net/http"
	"strings"
)

// IsWebSocket reports whether r asks for a WebSocket upgrade. Use it to
// skip WebSocket routes in HTTP request metrics (echoprometheus's Skipper,
// a Gin middleware): a hijacked request has no meaningful duration or
// response size, and counting it would skew every percentile.
func IsWebSocket(r *http.Request) bool {
	return hasToken(r.Header, "Connection", "upgrade") && hasToken(r.Header, "Upgrade", "websocket")
}

// hasToken reports whether a comma-separated header holds token, ignoring
// case.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// MethodLabel returns method when it is a standard HTTP method, and
// "other" otherwise, for the method label of HTTP request metrics: a
// client can send any token as a method, and each new one would otherwise
// become a series.
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}
