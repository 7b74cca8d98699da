// Package snippets keeps the Go code of README.md and of the pages in docs/
// honest: [Extract] finds the fenced Go blocks that follow an HTML comment
// <!-- snippet: name -->, and the package's test builds each as a program
// of its own module, with the repository as its rushws, so `go test ./...`
// fails when a snippet no longer compiles as pasted, wherever it moved.
//
// Extract is a pure function, safe for concurrent use.
package snippets
