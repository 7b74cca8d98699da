package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], ".", os.Stdout, os.Stderr))
}

// errStale is returned by -check when the file differs from what the
// generator writes.
var errStale = errors.New("out of date")

// run is the command, with its arguments, working directory and outputs.
func run(args []string, dir string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rushws-ts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "protocol.d.ts", `file to write ("-": standard output)`)
	check := fs.Bool("check", false, "write nothing; exit with status 1 when the file -o is not what would be written (for CI)")
	only := fs.String("protocol", "", "generate only the protocol of this name (default: every protocol in the packages)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: rushws-ts [-o file.d.ts] [-check] [-protocol name] [packages]

rushws-ts writes TypeScript declarations for the rushws protocols declared
in Go packages (package-level variables initialised with protocol.New) as
encoding/json encodes their types: an interface per struct, a union per
string enum, and per protocol the maps <Name>ClientEvents and
<Name>ServerEvents for the JS client's connect<In, Out>. The packages
default to ".", the package of a go:generate line:

	//go:generate go run github.com/rushws/rushws/cmd/rushws-ts -o web/protocol.d.ts .

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	text, err := generateFor(dir, patterns, *only)
	if err != nil {
		fmt.Fprintf(stderr, "rushws-ts: %v\n", err)
		return 1
	}
	if *out == "-" {
		if *check {
			fmt.Fprintln(stderr, "rushws-ts: -check needs a file (-o)")
			return 2
		}
		_, _ = io.WriteString(stdout, text)
		return 0
	}
	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	if *check {
		have, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(have, []byte(text)) {
			fmt.Fprintf(stderr, "rushws-ts: %s is %v: run go generate (or rushws-ts -o %s %s)\n", *out, errStale, *out, strings.Join(patterns, " "))
			return 1
		}
		return 0
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fmt.Fprintf(stderr, "rushws-ts: %v\n", err)
		return 1
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		fmt.Fprintf(stderr, "rushws-ts: %v\n", err)
		return 1
	}
	return 0
}

// generateFor loads the packages and generates the TypeScript of their
// protocols (only the one named only, when set).
func generateFor(dir string, patterns []string, only string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	pkgs, err := load(absDir, patterns)
	if err != nil {
		return "", err
	}
	if len(pkgs) == 0 {
		return "", fmt.Errorf("no package matches %s", strings.Join(patterns, " "))
	}
	var protocols []protocolDecl
	var paths []string
	for _, p := range pkgs {
		paths = append(paths, p.PkgPath)
		found, err := findProtocols(p, absDir)
		if err != nil {
			return "", err
		}
		for _, d := range found {
			if only == "" || d.name == only {
				protocols = append(protocols, d)
			}
		}
	}
	source := strings.Join(paths, ", ")
	if only != "" && len(protocols) == 0 {
		return "", fmt.Errorf("no protocol named %q in %s", only, source)
	}
	return generate(pkgs, protocols, source)
}
