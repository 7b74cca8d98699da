package adaptertest_test

import (
	"fmt"

	"github.com/rushws/rushws/internal/adaptertest"
)

// The cases every adapter passes, in the order Run runs them.
func ExampleCaseNames() {
	for _, name := range adaptertest.CaseNames() {
		fmt.Println(name)
	}
	// Output:
	// params
	// escaped params
	// utf-8 params
	// client IP ignores X-Forwarded-For by default
	// client IP from a trusted proxy
	// values from framework middleware
	// values stay each connection's own
	// headers on the 101
	// refused by connection middleware
	// refused by hub middleware
	// refused by route middleware
	// claims from the framework's JWT group
	// upgrade after the response was written
	// middleware that never calls next
	// rate limited with Retry-After
	// handshake with another method
	// POST on the GET route: the framework's router answers
	// not a websocket handshake
	// foreign origin
	// refused by framework middleware in front
	// hub shutting down
	// websocket outlives the server's read timeout
	// route pattern in the hub's logs
	// panicking route handler behind the framework's recovery
	// connections at once in one room
	// operational endpoints through the framework's wrap
	// a refusal in front is not the hub's to count
}
