package snippets

import (
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestExtract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		md      string
		want    []string // names
		wantErr string
	}{
		{
			name: "marked and unmarked blocks",
			md:   "# t\n<!-- snippet: one -->\n```go\npackage main\n```\n\n```go\nignored\n```\n<!-- snippet: two -->\n\n```go\npackage main\n```\n",
			want: []string{"one", "two"},
		},
		{name: "marker before another language", md: "<!-- snippet: x -->\n```js\n```\n", wantErr: "want a ```go fence"},
		{name: "unclosed", md: "<!-- snippet: x -->\n```go\npackage main\n", wantErr: "not closed"},
		{name: "name twice", md: "<!-- snippet: x -->\n```go\n```\n<!-- snippet: x -->\n```go\n```\n", wantErr: "already marked on line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extract([]byte(tt.md))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Errorf("names = %v, want %v", names, tt.want)
			}
		})
	}
}

// TestREADME builds every marked snippet of README.md and of the pages in
// docs/ as a program of a module of its own that requires this repository
// (by a replace directive) at the versions of its go.mod, the way a user
// pastes it into a new project, and vets it. Snippet names are unique
// across the files: each is a directory of that module.
func TestREADME(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	snips := docSnippets(t, root)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	modLine := regexp.MustCompile(`(?m)^module .*$`)
	mod := modLine.ReplaceAllString(string(gomod), "module example.com/readme")
	mod += "\nrequire github.com/rushws/rushws v0.0.0\n\nreplace github.com/rushws/rushws => " + root + "\n"

	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", []byte(mod))
	write("go.sum", gosum)
	for _, s := range snips {
		if !strings.HasPrefix(strings.TrimSpace(s.Code), "package main") {
			t.Errorf("snippet %q (%s line %d) is not a whole program: it must start with package main", s.Name, s.File, s.Line)
		}
		if formatted, err := format.Source([]byte(s.Code)); err == nil && string(formatted) != s.Code {
			t.Errorf("snippet %q (%s line %d) is not gofmt-formatted", s.Name, s.File, s.Line)
		}
		write(filepath.Join(s.Name, "main.go"), []byte(s.Code))
	}

	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the README snippets: %v", err)
	}
	cmd := exec.Command(goTool, append(append([]string{"vet"}, raceFlag()...), "./...")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README and docs snippets do not build as pasted (%v):\n%s", err, mapLines(string(out), snips))
	}
}

// raceFlag is "-race" when this test binary was built with it: the
// snippets are then vetted against the race-built packages "go test -race"
// has just compiled and cached, instead of compiling every dependency once
// more (minutes on a cold build cache).
func raceFlag() []string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return []string{"-race"}
			}
		}
	}
	return nil
}

// fileSnippet is a snippet and the file it is in, relative to the
// repository's root.
type fileSnippet struct {
	Snippet
	File string
}

// docSnippets extracts the marked snippets of README.md and docs/*.md,
// failing on a name used in two places and on a README without its quick
// starts.
func docSnippets(t *testing.T, root string) []fileSnippet {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := append([]string{filepath.Join(root, "README.md")}, pages...)
	var out []fileSnippet
	where := map[string]string{}
	inREADME := 0
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		md, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		snips, err := Extract(md)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, s := range snips {
			at := rel + ":" + strconv.Itoa(s.Line)
			if prev, ok := where[s.Name]; ok {
				t.Fatalf("snippet %q is marked at %s and at %s: names must be unique across README.md and docs/", s.Name, prev, at)
			}
			where[s.Name] = at
			out = append(out, fileSnippet{Snippet: s, File: rel})
			if rel == "README.md" {
				inREADME++
			}
		}
	}
	if inREADME < 5 {
		t.Fatalf("README.md has %d marked snippets, want the quick starts and the auth program (at least 5)", inREADME)
	}
	return out
}

// mapLines points build errors at the Markdown: "quickstart-echo/main.go:12"
// gets the README.md (or docs page) line of that snippet's line 12 beside
// it.
func mapLines(out string, snips []fileSnippet) string {
	type place struct {
		file string
		line int
	}
	at := map[string]place{}
	for _, s := range snips {
		at[s.Name] = place{s.File, s.Line + 2} // the marker, the fence, then line 1
	}
	re := regexp.MustCompile(`([a-z0-9-]+)/main\.go:(\d+)`)
	return re.ReplaceAllStringFunc(out, func(m string) string {
		sub := re.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[2])
		if p, ok := at[sub[1]]; ok {
			return m + " (" + p.file + ":" + strconv.Itoa(p.line+n-1) + ")"
		}
		return m
	})
}
