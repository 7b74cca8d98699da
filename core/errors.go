package core

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors returned by the hub and its connections. Compare with
// errors.Is.
//
// Error prefixes: every error rushws makes starts with the name of the
// package that made it, as the standard library's do ("http: ...",
// "rate: ..."), so a log line says where to look: "redisbroker: ",
// "metrics: ", "echows: ", "echo5ws: ", "ginws: ", "wstest: ". core and
// package middleware, the library itself as users meet it, say "rushws: ".
// A config error then names the field ("rushws: JWTConfig.Leeway must not
// be negative"), and user input in an error is quoted and cut.
var (
	// ErrHubClosed is returned after Shutdown or Close has begun.
	ErrHubClosed = errors.New("rushws: hub closed")
	// ErrClosed is returned by sends and joins on a connection that is
	// closing or closed.
	ErrClosed = errors.New("rushws: connection closed")
	// ErrQueueFull is returned by a send that the slow-consumer policy
	// refused because the connection's send queue is full.
	ErrQueueFull = errors.New("rushws: send queue full")
	// ErrInvalidRoom is returned for a room name that is empty, longer than
	// 256 bytes, not valid UTF-8 or holds control characters.
	ErrInvalidRoom = errors.New("rushws: invalid room name")
	// ErrInvalidEvent is returned for an event name that is empty, longer
	// than 128 bytes, not printable UTF-8, or reserved.
	ErrInvalidEvent = errors.New("rushws: invalid event name")
	// ErrTooManyRooms is returned by Join when the hub's MaxRooms or the
	// connection's MaxRoomsPerConn would be exceeded.
	ErrTooManyRooms = errors.New("rushws: too many rooms")
	// ErrInvalidUTF8 is returned by a text send whose payload is not valid
	// UTF-8: a browser would fail the whole connection on receiving it.
	ErrInvalidUTF8 = errors.New("rushws: text is not valid UTF-8")
	// ErrAckInHandler is returned by EmitWithAck when it is called while one
	// of the same connection's event handlers is running: the reply could
	// only be read after that handler returns. Use EmitWithAckFunc there.
	ErrAckInHandler = errors.New("rushws: EmitWithAck called from the connection's own handler")
	// ErrNotUpgraded is returned by operations that need the WebSocket
	// (such as Ping) when called from middleware, before the upgrade.
	ErrNotUpgraded = errors.New("rushws: connection not upgraded yet")
	// ErrDropMessage, returned by a FilterFunc, drops the message without
	// telling the client (a rate limiter that has already warned once).
	ErrDropMessage = errors.New("rushws: message dropped")
	// ErrInvalidCloseCode is the cause of the error returned by Close for a
	// code a close frame may not carry.
	ErrInvalidCloseCode = errors.New("rushws: invalid close code")
)

// HTTPError refuses a handshake before the upgrade. A middleware or route
// handler returns it to answer the request with Status and a small JSON body
// instead of upgrading; adapters turn it into the framework's own error.
type HTTPError struct {
	// Status is the HTTP status code. Required.
	Status int
	// Message is shown to the client in the JSON body. Optional. Default
	// http.StatusText(Status).
	Message string
	// Reason names the refusal in Stats.Rejected. Optional. Default derived
	// from Status by RejectReasonFor (for example RejectUnauthorized for
	// 401).
	Reason string
	// Header is added to the response (for example Retry-After). Optional.
	Header http.Header
	// Err is the underlying cause; it is never sent to the client.
	// Optional.
	Err error
}

// NewHTTPError returns an HTTPError with the given status and client-facing
// message.
func NewHTTPError(status int, message string) *HTTPError {
	return &HTTPError{Status: status, Message: message}
}

// Error implements error.
func (e *HTTPError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Err != nil {
		return fmt.Sprintf("rushws: handshake refused: %d %s: %v", e.Status, msg, e.Err)
	}
	return fmt.Sprintf("rushws: handshake refused: %d %s", e.Status, msg)
}

// Unwrap returns the underlying cause.
func (e *HTTPError) Unwrap() error { return e.Err }

// reason returns the Stats key for this refusal.
func (e *HTTPError) reason() string {
	if e.Reason != "" {
		return e.Reason
	}
	return RejectReasonFor(e.Status)
}

// CloseError closes an upgraded connection with Code and Reason. Return it
// from a route handler, event handler or middleware (after next) to end the
// connection with a documented close code.
type CloseError struct {
	// Code is the WebSocket close code, 1000 to 4999. Required.
	Code int
	// Reason is sent in the close frame, at most 123 bytes. Optional.
	Reason string
	// Err is the underlying cause; it is never sent to the client.
	// Optional.
	Err error
}

// Error implements error.
func (e *CloseError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("rushws: close %d %q: %v", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("rushws: close %d %q", e.Code, e.Reason)
}

// Unwrap returns the underlying cause.
func (e *CloseError) Unwrap() error { return e.Err }

// Error codes carried by error events and ack errors, part of the wire
// protocol.
const (
	CodeBadRequest   = "bad_request"
	CodeUnknownEvent = "unknown_event"
	CodeForbidden    = "forbidden"
	CodeRateLimited  = "rate_limited"
	CodeTooLarge     = "too_large"
	CodeInternal     = "internal"
)

// EventError is an error reported to the client, as an "error" event or as
// the error of an ack reply. Return it from an event handler to choose the
// code and message the client sees; any other error is reported as
// "internal" with a generic message, and logged.
type EventError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error implements error.
func (e *EventError) Error() string { return "rushws: " + e.Code + ": " + e.Message }

// NewEventError returns an EventError with the given code and message.
func NewEventError(code, message string) *EventError {
	return &EventError{Code: code, Message: message}
}

// WebSocket close codes used by the hub. The 44xx codes let a browser, which
// sees only 1006 for a refused handshake, read why it was closed.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseInternal        = 1011
	CloseNoStatus        = 1005 // the peer's close frame carried no code; never sent
	CloseAbnormal        = 1006
	CloseUnauthorized    = 4401
	CloseForbidden       = 4403
	CloseRateLimited     = 4429
)

// validCloseCode reports whether code may be sent in a close frame.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
