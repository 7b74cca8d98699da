package core_test

import (
	"fmt"

	"github.com/rushws/rushws/core"
)

// The names the library and the JS client keep for themselves: On refuses
// them, and so do Emit and every Target.
func ExampleReservedEventNames() {
	fmt.Println(core.ReservedEventNames())
	// Output: [close connect error message ping pong recover session]
}
