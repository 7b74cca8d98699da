package snippets

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Snippet is one marked Go block of a Markdown document.
type Snippet struct {
	// Name is the name in the marker comment.
	Name string
	// Line is the 1-based line of the marker, for error messages.
	Line int
	// Code is the block's content, without the fences.
	Code string
}

var marker = regexp.MustCompile(`^<!--\s*snippet:\s*([a-z0-9][a-z0-9-]*)\s*-->\s*$`)

// Extract returns the Go blocks of markdown that directly follow a marker
// comment <!-- snippet: name -->, in order. A marker not followed by a
// ```go fence, an unclosed fence, or a name used twice is an error that
// names the line, so a README edit cannot silently drop a snippet from the
// build.
func Extract(markdown []byte) ([]Snippet, error) {
	var (
		out   []Snippet
		seen  = map[string]int{}
		cur   *Snippet
		code  strings.Builder
		state int // 0 text, 1 after a marker, 2 inside a marked block
	)
	sc := bufio.NewScanner(bytes.NewReader(markdown))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		switch state {
		case 0:
			if m := marker.FindStringSubmatch(text); m != nil {
				if prev, ok := seen[m[1]]; ok {
					return nil, fmt.Errorf("line %d: snippet %q already marked on line %d", line, m[1], prev)
				}
				seen[m[1]] = line
				cur = &Snippet{Name: m[1], Line: line}
				state = 1
			}
		case 1:
			if strings.TrimSpace(text) == "" {
				continue
			}
			if strings.TrimSpace(text) != "```go" {
				return nil, fmt.Errorf("line %d: snippet %q: want a ```go fence after the marker, got %q", line, cur.Name, text)
			}
			code.Reset()
			state = 2
		case 2:
			if strings.TrimSpace(text) == "```" {
				cur.Code = code.String()
				out = append(out, *cur)
				state = 0
				continue
			}
			code.WriteString(text)
			code.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if state != 0 {
		return nil, fmt.Errorf("snippet %q (line %d) is not closed by a fence", cur.Name, cur.Line)
	}
	return out, nil
}
