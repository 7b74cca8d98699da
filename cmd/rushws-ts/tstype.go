package main

import (
	"encoding/json"
	"fmt"
	"go/types"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// tsType is the TypeScript for a Go type as encoding/json writes it: ts
// without the null, and null when the Go value may encode as null (a nil
// pointer, slice or map). Keeping null apart lets omitempty drop it: a nil
// value is then never written.
type tsType struct {
	ts   string
	null bool
}

func (t tsType) String() string {
	if t.null && t.ts != "unknown" && t.ts != "null" {
		return t.ts + " | null"
	}
	return t.ts
}

// typeDecl is one exported TypeScript declaration made from a Go named
// type.
type typeDecl struct {
	obj   *types.TypeName
	addr  bool   // made for an addressable value (pointer-receiver marshalers apply)
	id    int    // placeholder id in rendered text
	body  string // "interface {...}" body or a type expression
	iface bool   // body is an interface body
	doc   string
}

// converter maps Go types to TypeScript following encoding/json.
type converter struct {
	docs    map[types.Object]string
	decls   []*typeDecl
	byKey   map[declKey]*typeDecl
	inlines map[types.Type]bool // generic instances being inlined (recursion guard)
}

type declKey struct {
	obj  *types.TypeName
	addr bool
}

func newConverter(docs map[types.Object]string) *converter {
	return &converter{docs: docs, byKey: map[declKey]*typeDecl{}, inlines: map[types.Type]bool{}}
}

// marshalerIface and textMarshalerIface are encoding/json.Marshaler and
// encoding.TextMarshaler, built here so that neither package has to be
// loaded.
var (
	byteSlice          = types.NewSlice(types.Typ[types.Byte])
	errorType          = types.Universe.Lookup("error").Type()
	marshalerIface     = methodIface("MarshalJSON")
	textMarshalerIface = methodIface("MarshalText")
)

func methodIface(name string) *types.Interface {
	res := types.NewTuple(types.NewVar(0, nil, "", byteSlice), types.NewVar(0, nil, "", errorType))
	sig := types.NewSignatureType(nil, nil, nil, nil, res, false)
	it := types.NewInterfaceType([]*types.Func{types.NewFunc(0, nil, name, sig)}, nil)
	it.Complete()
	return it
}

// implements reports whether a value of type t uses the marshaler iface:
// through t's own methods, or through *t's when the value is addressable
// (reached through a pointer or a slice), as encoding/json decides.
func implements(t types.Type, iface *types.Interface, addr bool) bool {
	if types.Implements(t, iface) {
		return true
	}
	if _, isPtr := t.Underlying().(*types.Pointer); !isPtr && addr {
		return types.Implements(types.NewPointer(t), iface)
	}
	return false
}

// convert returns the TypeScript for a value of type t. path names where t
// sits, for errors.
func (cv *converter) convert(t types.Type, addr bool, path string) (tsType, error) {
	t = types.Unalias(t)
	if n, ok := t.(*types.Named); ok && n.Obj().Pkg() != nil {
		switch n.Obj().Pkg().Path() + "." + n.Obj().Name() {
		case "time.Time":
			return tsType{ts: "string"}, nil // RFC 3339 text
		case "encoding/json.RawMessage":
			return tsType{ts: "unknown"}, nil // any JSON, written as is
		case "encoding/json.Number":
			return tsType{ts: "number"}, nil
		case protocolPkg + ".NoReply":
			return tsType{ts: "null"}, nil
		}
	}
	if _, isIface := t.Underlying().(*types.Interface); isIface {
		return tsType{ts: "unknown"}, nil
	}
	if p, ok := t.(*types.Pointer); ok {
		// nil is null; otherwise the value it points to, addressable.
		el, err := cv.convert(p.Elem(), true, path)
		el.null = true
		return el, err
	}
	if implements(t, marshalerIface, addr) {
		return tsType{ts: "unknown"}, nil // its MarshalJSON decides
	}
	if implements(t, textMarshalerIface, addr) {
		_, isPtr := t.Underlying().(*types.Pointer) // a named pointer type
		return tsType{ts: "string", null: isPtr}, nil
	}
	if n, ok := t.(*types.Named); ok && n.Obj().Pkg() != nil {
		if n.TypeArgs().Len() == 0 {
			return cv.ref(n, addr, path)
		}
		// A generic instance is written out in place.
		if cv.inlines[n] {
			return tsType{}, fmt.Errorf("%s: the generic type %s refers to itself; declare a non-generic type for it", path, typeString(n))
		}
		cv.inlines[n] = true
		defer delete(cv.inlines, n)
	}
	return cv.structural(t.Underlying(), addr, path)
}

// structural converts an unnamed type (or a named type's underlying type).
func (cv *converter) structural(u types.Type, addr bool, path string) (tsType, error) {
	switch u := u.(type) {
	case *types.Basic:
		info := u.Info()
		switch {
		case info&types.IsBoolean != 0:
			return tsType{ts: "boolean"}, nil
		case info&types.IsString != 0:
			return tsType{ts: "string"}, nil
		case info&(types.IsInteger|types.IsFloat) != 0:
			return tsType{ts: "number"}, nil
		}
	case *types.Pointer:
		el, err := cv.convert(u.Elem(), true, path)
		el.null = true
		return el, err
	case *types.Slice:
		if isBytes(u.Elem()) {
			return tsType{ts: "string", null: true}, nil // base64
		}
		el, err := cv.convert(u.Elem(), true, path+"[]")
		return tsType{ts: arrayOf(el), null: true}, err
	case *types.Array:
		el, err := cv.convert(u.Elem(), addr, path+"[]")
		return tsType{ts: arrayOf(el)}, err
	case *types.Map:
		key, err := cv.mapKey(u.Key(), path)
		if err != nil {
			return tsType{}, err
		}
		val, err := cv.convert(u.Elem(), false, path+"[key]")
		if key != "string" {
			return tsType{ts: fmt.Sprintf("Partial<Record<%s, %s>>", key, val), null: true}, err
		}
		return tsType{ts: fmt.Sprintf("Record<string, %s>", val), null: true}, err
	case *types.Struct:
		return cv.object(u, addr, path)
	case *types.Interface:
		return tsType{ts: "unknown"}, nil
	}
	return tsType{}, fmt.Errorf("%s: %s cannot be encoded as JSON (encoding/json fails on it at run time); change its type, or leave the field out with the tag json:\"-\"", path, typeString(u))
}

// isBytes reports whether a slice of el encodes as base64: el is a byte
// kind whose values marshal themselves in no way.
func isBytes(el types.Type) bool {
	b, ok := el.Underlying().(*types.Basic)
	if !ok || b.Kind() != types.Uint8 {
		return false
	}
	return !implements(el, marshalerIface, true) && !implements(el, textMarshalerIface, true)
}

func arrayOf(el tsType) string {
	s := el.String()
	if strings.ContainsAny(s, " |&") {
		return "(" + s + ")[]"
	}
	return s + "[]"
}

// mapKey returns the TypeScript for a map key: encoding/json writes string
// kinds as they are, TextMarshalers as their text and integers in decimal,
// all as object keys (strings). A string enum keeps its union.
func (cv *converter) mapKey(k types.Type, path string) (string, error) {
	k = types.Unalias(k)
	if b, ok := k.Underlying().(*types.Basic); ok && b.Info()&types.IsString != 0 {
		if n, ok := k.(*types.Named); ok {
			if _, consts := enumValues(n); len(consts) > 0 {
				r, err := cv.ref(n, false, path)
				return r.ts, err
			}
		}
		return "string", nil
	}
	if implements(k, textMarshalerIface, false) {
		return "string", nil
	}
	if b, ok := k.Underlying().(*types.Basic); ok && b.Info()&types.IsInteger != 0 {
		return "string", nil
	}
	return "", fmt.Errorf("%s: a map key of type %s cannot be encoded as JSON (encoding/json takes string kinds, integers and encoding.TextMarshaler keys)", path, typeString(k))
}

// ref returns a reference to the declaration made for the named type n.
func (cv *converter) ref(n *types.Named, addr bool, path string) (tsType, error) {
	obj := n.Obj()
	// Only pointer-receiver marshalers make addressability matter; share
	// one declaration when n holds none in place.
	if addr && !addrSensitive(n, map[types.Type]bool{}) {
		addr = false
	}
	key := declKey{obj, addr}
	if d, ok := cv.byKey[key]; ok {
		return tsType{ts: placeholder(d.id), null: nilable(n)}, nil
	}
	d := &typeDecl{obj: obj, addr: addr, id: len(cv.decls), doc: cv.docs[obj]}
	cv.decls = append(cv.decls, d)
	cv.byKey[key] = d
	if u, ok := n.Underlying().(*types.Basic); ok && u.Info()&types.IsString != 0 {
		if lits, _ := enumValues(n); len(lits) > 0 {
			d.body = strings.Join(lits, " | ")
			return tsType{ts: placeholder(d.id)}, nil
		}
	}
	if st, ok := n.Underlying().(*types.Struct); ok {
		body, err := cv.fields(st, addr, obj.Name())
		if err != nil {
			return tsType{}, err
		}
		d.body, d.iface = body, true
		return tsType{ts: placeholder(d.id)}, nil
	}
	inner, err := cv.structural(n.Underlying(), addr, path)
	if err != nil {
		return tsType{}, err
	}
	d.body = inner.ts
	return tsType{ts: placeholder(d.id), null: inner.null}, nil
}

// addrSensitive reports whether t encodes differently when addressable: it
// or a value held in place in it (a struct field, an array element) has a
// marshaler only through a pointer receiver.
func addrSensitive(t types.Type, seen map[types.Type]bool) bool {
	t = types.Unalias(t)
	if seen[t] {
		return false
	}
	seen[t] = true
	if _, isIface := t.Underlying().(*types.Interface); isIface {
		return false
	}
	for _, it := range []*types.Interface{marshalerIface, textMarshalerIface} {
		if implements(t, it, true) != implements(t, it, false) {
			return true
		}
	}
	if implements(t, marshalerIface, false) || implements(t, textMarshalerIface, false) {
		return false
	}
	switch u := t.Underlying().(type) {
	case *types.Array:
		return addrSensitive(u.Elem(), seen)
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if addrSensitive(u.Field(i).Type(), seen) {
				return true
			}
		}
	}
	return false
}

// nilable reports whether a value of named type n can be nil and so
// encode as null.
func nilable(n *types.Named) bool {
	switch n.Underlying().(type) {
	case *types.Pointer, *types.Map, *types.Slice, *types.Interface:
		return true
	}
	return false
}

// enumValues returns the quoted values of the constants declared with type
// n in its package, in declaration order: a named string type with
// constants is an enum, and its TypeScript is their union.
func enumValues(n *types.Named) (lits []string, consts []*types.Const) {
	pkg := n.Obj().Pkg()
	if pkg == nil {
		return nil, nil
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		c, ok := scope.Lookup(name).(*types.Const)
		if ok && types.Identical(c.Type(), n) {
			consts = append(consts, c)
		}
	}
	sort.SliceStable(consts, func(i, j int) bool { return consts[i].Pos() < consts[j].Pos() })
	seen := map[string]bool{}
	for _, c := range consts {
		v := c.Val().ExactString()
		if !seen[v] {
			seen[v] = true
			lits = append(lits, jsString(constantString(c)))
		}
	}
	return lits, consts
}

func constantString(c *types.Const) string {
	s, err := strconv.Unquote(c.Val().ExactString())
	if err != nil {
		return c.Val().String()
	}
	return s
}

// object converts an unnamed struct type in place.
func (cv *converter) object(st *types.Struct, addr bool, path string) (tsType, error) {
	body, err := cv.fields(st, addr, path)
	if err != nil {
		return tsType{}, err
	}
	if body == "" {
		return tsType{ts: "Record<string, never>"}, nil
	}
	return tsType{ts: "{ " + strings.ReplaceAll(strings.TrimSpace(body), "\n  ", " ") + " }"}, nil
}

// jsonField is a field as encoding/json sees it.
type jsonField struct {
	name      string
	tagged    bool
	index     []int
	v         *types.Var
	omitEmpty bool
	omitZero  bool
	quoted    bool
	viaPtr    bool // promoted through an embedded pointer: left out when it is nil
}

// jsonFields lists the fields encoding/json writes for struct st, with its
// rules: exported fields, tag names, "-", embedded structs promoted unless
// tagged, and a name used at the shallowest depth winning unless two
// fields share that depth and taggedness, when both are dropped.
func jsonFields(st *types.Struct) []jsonField {
	type level struct {
		st     *types.Struct
		key    string
		index  []int
		viaPtr bool
	}
	var fields []jsonField
	var current []level
	next := []level{{st: st, key: "<root>"}}
	var count map[string]int
	nextCount := map[string]int{}
	visited := map[string]bool{}
	for len(next) > 0 {
		current, next = next, nil
		count, nextCount = nextCount, map[string]int{}
		for _, f := range current {
			if visited[f.key] {
				continue
			}
			visited[f.key] = true
			for i := 0; i < f.st.NumFields(); i++ {
				sf := f.st.Field(i)
				if sf.Embedded() {
					t := types.Unalias(sf.Type())
					if p, ok := t.(*types.Pointer); ok {
						t = p.Elem()
					}
					if _, isStruct := t.Underlying().(*types.Struct); !sf.Exported() && !isStruct {
						continue
					}
				} else if !sf.Exported() {
					continue
				}
				tag := reflect.StructTag(f.st.Tag(i)).Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTag(name) {
					name = ""
				}
				index := append(append([]int(nil), f.index...), i)
				ft := types.Unalias(sf.Type())
				p, isPtr := ft.(*types.Pointer)
				if isPtr {
					ft = types.Unalias(p.Elem())
				}
				quoted := false
				if hasOpt(opts, "string") {
					if b, ok := ft.Underlying().(*types.Basic); ok && b.Info()&(types.IsBoolean|types.IsNumeric|types.IsString) != 0 {
						quoted = true
					}
				}
				ftStruct, isStruct := ft.Underlying().(*types.Struct)
				if name != "" || !sf.Embedded() || !isStruct {
					tagged := name != ""
					if name == "" {
						name = sf.Name()
					}
					fields = append(fields, jsonField{name: name, tagged: tagged, index: index, v: sf,
						omitEmpty: hasOpt(opts, "omitempty"), omitZero: hasOpt(opts, "omitzero"), quoted: quoted, viaPtr: f.viaPtr})
					if count[f.key] > 1 {
						// Two embedded structs of the same type at this depth:
						// their fields annihilate each other.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				key := types.TypeString(ft, nil)
				nextCount[key]++
				if nextCount[key] == 1 {
					next = append(next, level{st: ftStruct, key: key, index: index, viaPtr: f.viaPtr || isPtr})
				}
			}
		}
	}
	sort.SliceStable(fields, func(i, j int) bool {
		a, b := fields[i], fields[j]
		if a.name != b.name {
			return a.name < b.name
		}
		if len(a.index) != len(b.index) {
			return len(a.index) < len(b.index)
		}
		if a.tagged != b.tagged {
			return a.tagged
		}
		return lessIndex(a.index, b.index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		group := fields[i:j]
		if len(group) == 1 || len(group[0].index) != len(group[1].index) || group[0].tagged != group[1].tagged {
			out = append(out, group[0])
		}
		i = j
	}
	sort.SliceStable(out, func(i, j int) bool { return lessIndex(out[i].index, out[j].index) })
	return out
}

func lessIndex(a, b []int) bool {
	for k := range a {
		if k >= len(b) {
			return false
		}
		if a[k] != b[k] {
			return a[k] < b[k]
		}
	}
	return len(a) < len(b)
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// validTag reports whether encoding/json accepts s as a field name.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// canBeEmpty reports whether omitempty can leave out a value of type t:
// false, 0, "", and nil or empty pointers, interfaces, slices, maps and
// arrays of length 0. Structs are never empty.
func canBeEmpty(t types.Type) bool {
	switch u := t.Underlying().(type) {
	case *types.Basic, *types.Pointer, *types.Interface, *types.Slice, *types.Map:
		return true
	case *types.Array:
		return u.Len() == 0
	}
	return false
}

// fields renders the members of an interface for struct st, one a line.
func (cv *converter) fields(st *types.Struct, addr bool, path string) (string, error) {
	var b strings.Builder
	for _, f := range jsonFields(st) {
		fpath := path + "." + f.v.Name()
		var t tsType
		var err error
		if f.quoted && !implements(f.v.Type(), marshalerIface, addr) {
			// The ,string option writes the value inside a JSON string.
			t = tsType{ts: "string"}
			_, t.null = types.Unalias(f.v.Type()).(*types.Pointer)
		} else {
			t, err = cv.convert(f.v.Type(), addr, fpath)
			if err != nil {
				return "", err
			}
		}
		optional := f.omitZero || (f.omitEmpty && canBeEmpty(f.v.Type()))
		if optional {
			// A nil value is zero and empty: it is left out, never null.
			t.null = false
		}
		optional = optional || f.viaPtr
		if doc := cv.docs[f.v]; doc != "" {
			b.WriteString(docComment(doc, "  "))
		}
		b.WriteString("  " + propName(f.name))
		if optional {
			b.WriteString("?")
		}
		b.WriteString(": " + t.String() + ";\n")
	}
	return b.String(), nil
}

// propName writes a property name, quoted unless it is an identifier.
func propName(s string) string {
	if isIdent(s) {
		return s
	}
	return jsString(s)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == '$' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// jsString quotes s as a JavaScript string literal: JSON's quoting, which
// escapes U+2028 and U+2029 too.
func jsString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// typeString writes t with package names, not paths, as Go code does.
func typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string { return p.Name() })
}

func placeholder(id int) string { return "\x00" + strconv.Itoa(id) + "\x00" }

// docComment renders doc as a JSDoc comment at indent.
func docComment(doc, indent string) string {
	doc = strings.TrimSpace(doc)
	if doc == "" {
		return ""
	}
	doc = strings.ReplaceAll(doc, "*/", "*\\/")
	lines := strings.Split(doc, "\n")
	if len(lines) == 1 {
		return indent + "/** " + lines[0] + " */\n"
	}
	var b strings.Builder
	b.WriteString(indent + "/**\n")
	for _, l := range lines {
		b.WriteString(strings.TrimRight(indent+" * "+l, " ") + "\n")
	}
	b.WriteString(indent + " */\n")
	return b.String()
}
