// Package pathparam decodes route parameters the same way for every
// adapter, so a room named "a/b" reaches the connection as "a/b" whether
// the router matched the escaped or the decoded request path.
//
// Its functions are pure and safe for concurrent use.
package pathparam
