package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/tools/go/packages"

	"github.com/rushws/rushws/cmd/rushws-ts/testdata/cases/embedded"
	"github.com/rushws/rushws/cmd/rushws-ts/testdata/cases/enums"
	"github.com/rushws/rushws/cmd/rushws-ts/testdata/cases/nullable"
	"github.com/rushws/rushws/cmd/rushws-ts/testdata/cases/special"
	"github.com/rushws/rushws/cmd/rushws-ts/testdata/cases/tags"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what the generator writes now")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// casesDir holds one package per case; testdata/<case>.golden is what the
// generator writes for it (or the error it reports).
const casesDir = "testdata/cases"

var (
	loadOnce   sync.Once
	loadedPkgs map[string]*packages.Package // by case name
	loadErr    error
)

// loadCases loads every case package once (go list is slow; one call).
func loadCases(t *testing.T) map[string]*packages.Package {
	t.Helper()
	loadOnce.Do(func() {
		abs, err := filepath.Abs(casesDir)
		if err != nil {
			loadErr = err
			return
		}
		pkgs, err := load(abs, []string{"./..."})
		if err != nil {
			loadErr = err
			return
		}
		loadedPkgs = map[string]*packages.Package{}
		for _, p := range pkgs {
			rel, _ := filepath.Rel(abs, p.Dir)
			loadedPkgs[filepath.ToSlash(rel)] = p
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loadedPkgs
}

// generateCase runs the generator on one loaded case package, as the
// command would.
func generateCase(t *testing.T, name string) (string, error) {
	t.Helper()
	pkgs := loadCases(t)
	p, ok := pkgs[name]
	if !ok {
		t.Fatalf("no case package %q in %s", name, casesDir)
	}
	abs, _ := filepath.Abs(casesDir)
	found, err := findProtocols(p, abs)
	if err != nil {
		return "", err
	}
	return generate([]*packages.Package{p}, found, p.PkgPath)
}

func TestGolden(t *testing.T) {
	t.Parallel()
	pkgs := loadCases(t)
	var names []string
	for name := range pkgs {
		if !strings.Contains(name, "/") { // sub-packages are used by their case
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) < 10 {
		t.Fatalf("found %d cases in %s, want every one: %v", len(names), casesDir, names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := generateCase(t, name)
			wantErr := strings.HasPrefix(name, "err_")
			switch {
			case err != nil && !wantErr:
				t.Fatalf("generate: %v", err)
			case err == nil && wantErr:
				t.Fatalf("generate succeeded, want an error; wrote:\n%s", got)
			case err != nil:
				got = "error: " + err.Error() + "\n"
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from what the generator writes (go test -update rewrites it after review):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestFieldsMatchEncodingJSON checks the generated interfaces against
// encoding/json itself: a value with every field set encodes exactly the
// properties the interface lists, and the zero value at least its required
// ones, with no property the interface does not list.
func TestFieldsMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pkg, iface string
		v          any
		never      []string // optional properties no value sets
	}{
		{"tags", "Tagged", &tags.Tagged{}, []string{"opt_arr0"}},
		{"embedded", "Doc", &embedded.Doc{}, nil},
		{"embedded", "Shallow", &embedded.Shallow{}, nil},
		{"nullable", "Holder", &nullable.Holder{}, nil},
		{"special", "Special", &special.Special{}, nil},
		{"enums", "Paint", &enums.Paint{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.pkg+"."+tc.iface, func(t *testing.T) {
			ts, err := generateCase(t, tc.pkg)
			if err != nil {
				t.Fatal(err)
			}
			required, optional := interfaceProps(t, ts, tc.iface)
			all := append(append([]string(nil), required...), optional...)
			sort.Strings(all)
			settable := slices.DeleteFunc(slices.Clone(all), func(k string) bool { return slices.Contains(tc.never, k) })

			zero := jsonKeys(t, reflect.ValueOf(tc.v).Elem().Interface())
			for _, k := range required {
				if !slices.Contains(zero, k) {
					t.Errorf("required property %q is missing from the zero value's JSON %v", k, zero)
				}
			}
			for _, k := range zero {
				if !slices.Contains(all, k) {
					t.Errorf("the zero value's JSON has %q, which %s does not list", k, tc.iface)
				}
			}
			fill(reflect.ValueOf(tc.v).Elem())
			full := jsonKeys(t, reflect.ValueOf(tc.v).Elem().Interface())
			if !slices.Equal(full, settable) {
				t.Errorf("every field set: JSON keys %v, interface %s lists %v", full, tc.iface, settable)
			}
		})
	}
}

var propRE = regexp.MustCompile(`^  ("(?:[^"\\]|\\.)*"|[^?:\s]+)(\??):`)

// interfaceProps returns the property names of interface name in ts.
func interfaceProps(t *testing.T, ts, name string) (required, optional []string) {
	t.Helper()
	start := strings.Index(ts, "export interface "+name+" {\n")
	if start < 0 {
		t.Fatalf("no interface %s in:\n%s", name, ts)
	}
	body := ts[start:]
	body = body[strings.Index(body, "\n")+1 : strings.Index(body, "\n}\n")]
	for _, line := range strings.Split(body, "\n") {
		m := propRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		prop := m[1]
		if strings.HasPrefix(prop, `"`) {
			if err := json.Unmarshal([]byte(prop), &prop); err != nil {
				t.Fatal(err)
			}
		}
		if m[2] == "?" {
			optional = append(optional, prop)
		} else {
			required = append(required, prop)
		}
	}
	return required, optional
}

// jsonKeys returns the sorted top-level keys of v's JSON object.
func jsonKeys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fill sets every settable field of v to a value that is neither zero nor
// empty, through pointers, so that omitempty and omitzero keep them.
func fill(v reflect.Value) {
	switch v.Type() {
	case reflect.TypeFor[json.RawMessage](), reflect.TypeFor[json.Number]():
		if v.CanSet() {
			v.Set(reflect.ValueOf("1").Convert(v.Type()))
		}
		return
	case reflect.TypeFor[time.Time]():
		if v.CanSet() {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if !v.IsNil() {
			fill(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() || v.Type().Field(i).Anonymous {
				fill(f)
			}
		}
	case reflect.Slice:
		if v.CanSet() {
			s := reflect.MakeSlice(v.Type(), 1, 1)
			fill(s.Index(0))
			v.Set(s)
		}
	case reflect.Map:
		if v.CanSet() && v.Type().Key().Kind() == reflect.String {
			m := reflect.MakeMap(v.Type())
			val := reflect.New(v.Type().Elem()).Elem()
			fill(val)
			m.SetMapIndex(reflect.ValueOf("k").Convert(v.Type().Key()), val)
			v.Set(m)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString("s")
		}
	case reflect.Bool:
		if v.CanSet() {
			v.SetBool(true)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.CanSet() {
			v.SetInt(1)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if v.CanSet() {
			v.SetUint(1)
		}
	case reflect.Float32, reflect.Float64:
		if v.CanSet() {
			v.SetFloat(1)
		}
	case reflect.Interface:
		if v.CanSet() && v.NumMethod() == 0 {
			v.Set(reflect.ValueOf(1))
		}
	}
}

// TestCommand runs the command as a user does: writing a file, checking
// it, and reporting errors.
func TestCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "events.d.ts")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-o", out, "./events"}, casesDir, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := os.ReadFile("testdata/events.golden"); !bytes.Equal(written, want) {
		t.Errorf("the file written differs from testdata/events.golden")
	}

	stderr.Reset()
	if code := run([]string{"-check", "-o", out, "./events"}, casesDir, &stdout, &stderr); code != 0 {
		t.Errorf("-check on a fresh file: exit %d: %s", code, stderr.String())
	}
	if err := os.WriteFile(out, append(written, "// edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run([]string{"-check", "-o", out, "./events"}, casesDir, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "out of date: run go generate") {
		t.Errorf("-check on an edited file: exit %d, stderr %q; want 1 and a hint", code, stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"-o", "-", "-protocol", "admin", "./events"}, casesDir, &stdout, &stderr); code != 0 {
		t.Fatalf("-protocol admin: exit %d: %s", code, stderr.String())
	}
	if s := stdout.String(); !strings.Contains(s, "AdminClientEvents") || strings.Contains(s, "ChatClientEvents") {
		t.Errorf("-protocol admin wrote other protocols too:\n%s", s)
	}

	stderr.Reset()
	if code := run([]string{"-o", "-", "-protocol", "nope", "./events"}, casesDir, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), `no protocol named "nope"`) {
		t.Errorf("-protocol nope: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"-o", "-", "./events/other"}, casesDir, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no protocol found") {
		t.Errorf("a package without a protocol: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"-o", "-", "./missing"}, casesDir, &stdout, &stderr); code != 1 {
		t.Errorf("a missing package: exit %d, stderr %q", code, stderr.String())
	}
}
