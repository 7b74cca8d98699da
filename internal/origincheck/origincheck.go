// Package origincheck lets package middleware's Origin middleware tell the
// hub that it has decided a handshake's Origin, without a method on
// core.Conn that every user would see and no user needs: an application
// that wants its own origin rule sets core.Config.CheckOrigin.
//
// core sets Mark when it is initialised; it is never changed afterwards,
// so reading it is safe from any goroutine.
package origincheck

// Mark records that a middleware has decided the Origin of the handshake
// of c, a *core.Conn, so the hub's default same-origin check is skipped
// for it. Call it from middleware, before next.
var Mark func(c any)
