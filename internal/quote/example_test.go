package quote_test

import (
	"fmt"
	"strings"

	"github.com/rushws/rushws/internal/quote"
)

// A room name from a client goes into an error quoted, escaped and cut;
// the cut never splits the "é".
func ExampleInput() {
	fmt.Println(quote.Input("caf\u00e9\n", 64))
	fmt.Println(quote.Input("caf\u00e9"+strings.Repeat("x", 100), 4))
	// Output:
	// "café\n"
	// "caf"...
}

func ExampleCut() {
	fmt.Println(quote.Cut("a✓b", 3))
	// Output:
	// a
}
