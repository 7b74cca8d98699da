package snippets_test

import (
	"fmt"

	"github.com/rushws/rushws/internal/snippets"
)

// A marked block is extracted; an unmarked one is not.
func ExampleExtract() {
	md := "Paste this:\n\n<!-- snippet: hello -->\n```go\npackage main\n\nfunc main() {}\n```\n\n```go\nfragment()\n```\n"
	snips, err := snippets.Extract([]byte(md))
	if err != nil {
		panic(err)
	}
	for _, s := range snips {
		fmt.Printf("%s (line %d): %q\n", s.Name, s.Line, s.Code)
	}
	// Output: hello (line 3): "package main\n\nfunc main() {}\n"
}
