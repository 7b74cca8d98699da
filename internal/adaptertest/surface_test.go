package adaptertest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// exported returns the exported top-level names of the package in dir, by
// kind ("func", "type", "const", "var"), from its non-test files.
func exported(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string][]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					out["func"] = append(out["func"], d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							out["type"] = append(out["type"], s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								out[d.Tok.String()] = append(out[d.Tok.String()], n.Name)
							}
						}
					}
				}
			}
		}
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// TestAdaptersExportTheSameNames keeps the three adapters' APIs aligned:
// the same functions, and the same types and constants but for the ones a
// framework makes necessary (Echo cannot list its context's keys, so its
// adapters name them with DefaultContextKey; Gin routes on gin.IRoutes, so
// ginws needs no Router). A function added to one adapter fails here until
// the others have it, or until it is listed here with the reason.
func TestAdaptersExportTheSameNames(t *testing.T) {
	t.Parallel()
	onlyEcho := map[string]bool{"Router": true, "DefaultContextKey": true}
	want := exported(t, "../../echows")
	if len(want["func"]) == 0 {
		t.Fatal("echows exports no function: parsed the wrong directory?")
	}
	for _, pkg := range []string{"echo5ws", "ginws"} {
		got := exported(t, filepath.Join("../..", pkg))
		for _, kind := range []string{"func", "type", "const", "var"} {
			w := want[kind]
			if pkg == "ginws" {
				w = slices.DeleteFunc(slices.Clone(w), func(n string) bool { return onlyEcho[n] })
			}
			if !slices.Equal(got[kind], w) {
				t.Errorf("%s exports the %ss %v, echows %v", pkg, kind, got[kind], want[kind])
			}
		}
	}
}
