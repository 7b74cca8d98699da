// Package other declares types whose names clash with events' own.
package other

// Message clashes with events.Message.
type Message struct {
	Body string `json:"body"`
}
