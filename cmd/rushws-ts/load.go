package main

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"
)

// protocolPkg is the import path of the package that declares protocols.
const protocolPkg = "github.com/rushws/rushws/protocol"

// protocolDecl is one protocol found in the loaded source.
type protocolDecl struct {
	name   string // the name given to protocol.New
	varPos token.Position
	pkg    *packages.Package
	events []eventDecl
}

// eventDecl is one event of a protocol, with its type arguments.
type eventDecl struct {
	name       string
	fromClient bool
	data       types.Type
	reply      types.Type // nil for server events
}

// loadMode is what the generator needs: the syntax and types of the
// user's packages, and the types of their imports.
const loadMode = packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
	packages.NeedTypes | packages.NeedTypesInfo | packages.NeedImports

// load loads the packages matching patterns, relative to dir.
func load(dir string, patterns []string) ([]*packages.Package, error) {
	cfg := &packages.Config{Mode: loadMode, Dir: dir}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, err
	}
	var errs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	})
	if len(errs) > 0 {
		if len(errs) > 10 {
			errs = append(errs[:10], fmt.Sprintf("and %d more", len(errs)-10))
		}
		return nil, fmt.Errorf("the packages do not build:\n\t%s", strings.Join(errs, "\n\t"))
	}
	return pkgs, nil
}

// findProtocols returns the protocols declared in pkg: package-level
// variables of type *protocol.Protocol initialised with protocol.New.
// Positions in errors are relative to dir when they are inside it.
func findProtocols(pkg *packages.Package, dir string) ([]protocolDecl, error) {
	inits := map[types.Object]ast.Expr{} // package-level variables and their initial values
	type spec struct {
		obj  types.Object
		expr ast.Expr
	}
	var order []spec
	for _, f := range pkg.Syntax {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					obj := pkg.TypesInfo.Defs[n]
					if obj == nil {
						continue
					}
					var expr ast.Expr
					if len(vs.Values) == len(vs.Names) {
						expr = vs.Values[i]
						inits[obj] = expr
					}
					order = append(order, spec{obj, expr})
				}
			}
		}
	}
	var out []protocolDecl
	for _, s := range order {
		if !isProtocolPtr(s.obj.Type()) {
			continue
		}
		pos := pkg.Fset.Position(s.obj.Pos())
		if rel, err := filepath.Rel(dir, pos.Filename); err == nil && !strings.HasPrefix(rel, "..") {
			pos.Filename = rel
		}
		where := fmt.Sprintf("%s: var %s", pos, s.obj.Name())
		call, ok := unparen(s.expr).(*ast.CallExpr)
		if !ok || !isFunc(pkg.TypesInfo, call.Fun, "New") {
			return nil, fmt.Errorf("%s: initialise it with protocol.New(name, events...) so that the generator can read it", where)
		}
		if call.Ellipsis.IsValid() {
			return nil, fmt.Errorf("%s: list the events as arguments of protocol.New, not as a slice with an ellipsis", where)
		}
		if len(call.Args) == 0 {
			return nil, fmt.Errorf("%s: protocol.New needs a name", where)
		}
		name, err := constString(pkg.TypesInfo, call.Args[0])
		if err != nil {
			return nil, fmt.Errorf("%s: the protocol's name %v", where, err)
		}
		d := protocolDecl{name: name, varPos: pos, pkg: pkg}
		for i, arg := range call.Args[1:] {
			ev, err := eventOf(pkg, inits, arg, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: event argument %d (%s): %v", where, i+1, exprString(arg), err)
			}
			d.events = append(d.events, ev)
		}
		out = append(out, d)
	}
	return out, nil
}

// eventOf reads one event argument of protocol.New: a call of
// protocol.Client or protocol.Server, or a package-level variable of pkg
// initialised with one.
func eventOf(pkg *packages.Package, inits map[types.Object]ast.Expr, arg ast.Expr, depth int) (eventDecl, error) {
	info := pkg.TypesInfo
	arg = unparen(arg)
	switch a := arg.(type) {
	case *ast.Ident, *ast.SelectorExpr:
		var id *ast.Ident
		if sel, ok := a.(*ast.SelectorExpr); ok {
			id = sel.Sel
		} else {
			id = a.(*ast.Ident)
		}
		obj := info.Uses[id]
		expr, ok := inits[obj]
		if !ok || depth > 8 {
			return eventDecl{}, fmt.Errorf("declare the event in the same package as a package-level variable initialised with protocol.Client or protocol.Server, or call them in place")
		}
		return eventOf(pkg, inits, expr, depth+1)
	case *ast.CallExpr:
		fromClient := isFunc(info, a.Fun, "Client")
		if !fromClient && !isFunc(info, a.Fun, "Server") {
			break
		}
		if len(a.Args) != 1 {
			return eventDecl{}, fmt.Errorf("protocol.Client and protocol.Server take one argument, the name")
		}
		name, err := constString(info, a.Args[0])
		if err != nil {
			return eventDecl{}, fmt.Errorf("the event's name %v", err)
		}
		named, ok := types.Unalias(info.TypeOf(a)).(*types.Named)
		if !ok || named.TypeArgs() == nil {
			return eventDecl{}, fmt.Errorf("cannot read the event's type arguments")
		}
		ev := eventDecl{name: name, fromClient: fromClient, data: named.TypeArgs().At(0)}
		if fromClient {
			ev.reply = named.TypeArgs().At(1)
		}
		return ev, nil
	}
	return eventDecl{}, fmt.Errorf("use a package-level variable initialised with protocol.Client or protocol.Server, or call them in place")
}

// isFunc reports whether fun (possibly instantiated, as in
// protocol.Client[A, B]) names the function name of the protocol package.
func isFunc(info *types.Info, fun ast.Expr, name string) bool {
	fun = unparen(fun)
	switch f := fun.(type) {
	case *ast.IndexExpr:
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	var id *ast.Ident
	switch f := unparen(fun).(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	default:
		return false
	}
	fn, ok := info.Uses[id].(*types.Func)
	return ok && fn.Pkg() != nil && fn.Pkg().Path() == protocolPkg && fn.Name() == name
}

// isProtocolPtr reports whether t is *protocol.Protocol.
func isProtocolPtr(t types.Type) bool {
	p, ok := types.Unalias(t).(*types.Pointer)
	if !ok {
		return false
	}
	return isNamed(p.Elem(), protocolPkg, "Protocol")
}

// isNamed reports whether t is the named type path.name.
func isNamed(t types.Type, path, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	o := n.Obj()
	return o.Pkg() != nil && o.Pkg().Path() == path && o.Name() == name
}

// constString returns the constant string value of e.
func constString(info *types.Info, e ast.Expr) (string, error) {
	tv, ok := info.Types[e]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", fmt.Errorf("must be a constant string")
	}
	return constant.StringVal(tv.Value), nil
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

// exprString prints e as written, cut to a sane length.
func exprString(e ast.Expr) string {
	s := types.ExprString(e)
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}
