package pathparam

import (
	"net/url"
	"strings"
)

// Unescape returns the decoded form of a route parameter value v that a
// router took from the request whose escaped path is rawPath
// (url.URL.RawPath). Routers match on RawPath when it is set, which happens
// only when the path holds escapes that the decoded path cannot show (such
// as %2F), and then hand the value out still escaped; a value that is part
// of rawPath is such a raw value and is decoded here. A value that is not
// (the router matched the decoded path, or already unescaped the value) is
// returned as is, so nothing is decoded twice. A value that does not decode
// is returned unchanged.
func Unescape(rawPath, v string) string {
	if rawPath == "" || !strings.Contains(v, "%") || !strings.Contains(rawPath, v) {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}
