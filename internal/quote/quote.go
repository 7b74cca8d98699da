package quote

import (
	"strconv"
	"unicode/utf8"
)

// Ellipsis follows a quoted string that was cut.
const Ellipsis = "..."

// Cut returns s cut to at most n bytes. It never splits a UTF-8 character:
// when the n-th byte falls inside one, the whole character is left out.
// Bytes that are not UTF-8 are cut like single characters. A negative n
// counts as 0.
func Cut(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) <= n {
		return s
	}
	// When s[n] continues a character, step back to where it starts
	// (at most UTFMax-1 bytes) and leave the whole character out. Stray
	// continuation bytes, which are not UTF-8, are cut where they stand.
	for i := n; i > 0 && i >= n-(utf8.UTFMax-1) && !utf8.RuneStart(s[i]); i-- {
		if j := i - 1; utf8.RuneStart(s[j]) {
			if _, size := utf8.DecodeRuneInString(s[j:]); j+size > n {
				return s[:j]
			}
			break
		}
	}
	return s[:n]
}

// Input quotes s as a Go string literal after cutting it to n bytes (see
// Cut), and adds Ellipsis after the closing quote when it was cut:
//
//	Input("lobby", 64)          // "lobby"
//	Input("a\nb", 64)           // "a\nb"
//	Input(strings.Repeat("x", 100), 4) // "xxxx"...
func Input(s string, n int) string {
	c := Cut(s, n)
	if len(c) == len(s) {
		return strconv.Quote(s)
	}
	return strconv.Quote(c) + Ellipsis
}
