package quote

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short", "lobby", 64, "lobby"},
		{"exact", "lobby", 5, "lobby"},
		{"ascii", "lobby", 3, "lob"},
		{"zero", "lobby", 0, ""},
		{"negative", "lobby", -1, ""},
		{"empty", "", 3, ""},
		{"before a two-byte character", "aé", 1, "a"},
		{"inside a two-byte character", "aéb", 2, "a"},
		{"after a two-byte character", "aéb", 3, "aé"},
		{"inside a three-byte character", "a✓b", 3, "a"},
		{"after a three-byte character", "a✓b", 4, "a✓"},
		{"inside a four-byte character", "a😀b", 4, "a"},
		{"after a four-byte character", "a😀b", 5, "a😀"},
		{"only a multi-byte character", "😀", 3, ""},
		{"stray continuation bytes", "a\x80\x80\x80\x80b", 3, "a\x80\x80"},
		{"invalid lead byte", "a\xffb", 2, "a\xff"},
		{"truncated character in the input", "a\xe2\x9cb", 3, "a\xe2\x9c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Cut(tc.s, tc.n); got != tc.want {
				t.Errorf("Cut(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}

// TestCutNeverSplitsUTF8 cuts valid UTF-8 at every length: the result is
// valid UTF-8, a prefix of the input, at most n bytes, and leaves out at
// most the one character that straddles n.
func TestCutNeverSplitsUTF8(t *testing.T) {
	t.Parallel()
	s := "aé✓😀b€日本語\u00a0z"
	for n := 0; n <= len(s)+1; n++ {
		got := Cut(s, n)
		if !utf8.ValidString(got) || !strings.HasPrefix(s, got) || len(got) > n {
			t.Fatalf("Cut(%q, %d) = %q: not a valid UTF-8 prefix of at most %d bytes", s, n, got, n)
		}
		if n < len(s) && n-len(got) >= utf8.UTFMax {
			t.Fatalf("Cut(%q, %d) = %q: left out more than one character", s, n, got)
		}
	}
}

func TestInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"lobby", 64, `"lobby"`},
		{"a\nb\x00", 64, `"a\nb\x00"`},
		{"xxxxxxxx", 4, `"xxxx"...`},
		{"aé", 2, `"a"...`},
		{"\xff\xfe", 64, `"\xff\xfe"`},
	} {
		if got := Input(tc.s, tc.n); got != tc.want {
			t.Errorf("Input(%q, %d) = %s, want %s", tc.s, tc.n, got, tc.want)
		}
	}
}

func FuzzCut(f *testing.F) {
	f.Add("aé✓😀", 3)
	f.Add("\xff\x80\x80", 2)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := Cut(s, n)
		if !strings.HasPrefix(s, got) {
			t.Fatalf("Cut(%q, %d) = %q: not a prefix", s, n, got)
		}
		if n >= 0 && len(got) > n {
			t.Fatalf("Cut(%q, %d) = %q: longer than %d", s, n, got, n)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Cut(%q, %d) = %q split a character", s, n, got)
		}
	})
}
