package realm

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestEventTypes: EventTypes is exactly the set of types the code of realm
// and oauth records. The recorded types are read from the sources: every
// Event composite literal's Type, followed back through the functions that
// pass it on (s.event(a, org, realm, "user.created", …), s.loginEvent(…,
// "user.login_failed", …)) to string literals, concatenations (m.kind +
// ".group_added") and helpers (activeEvent("client", …)). A shape the
// scanner cannot follow fails the test rather than being skipped.
func TestEventTypes(t *testing.T) {
	var recorded []string
	sinks := 0
	for _, dir := range []string{".", "../oauth"} {
		types, n, err := scanEventTypes(t, parseDir(t, dir))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if n == 0 {
			t.Fatalf("%s: no Event literal found: the scanner no longer sees how events are recorded", dir)
		}
		sinks += n
		recorded = append(recorded, types...)
	}
	for _, want := range []string{"user.created", "client.deactivated", "user.group_added", "realm.key_rotated", "user.locked_out"} {
		if !slices.Contains(recorded, want) {
			t.Fatalf("the scan missed %s (found %q): it no longer follows the recording calls", want, recorded)
		}
	}
	for _, typ := range recorded {
		if !slices.Contains(EventTypes, typ) {
			t.Errorf("%s is recorded but missing from EventTypes", typ)
		}
	}
	for _, typ := range EventTypes {
		if !slices.Contains(recorded, typ) {
			t.Errorf("EventTypes lists %s, which nothing records", typ)
		}
	}
	if !slices.IsSorted(EventTypes) || len(slices.Compact(slices.Clone(EventTypes))) != len(EventTypes) {
		t.Errorf("EventTypes is not sorted without duplicates: %q", EventTypes)
	}
}

// TestEventTypesScanner: the scanner finds a type recorded through a
// helper, so TestEventTypes fails when such a type is added to the code
// without being added to EventTypes.
func TestEventTypesScanner(t *testing.T) {
	src := `package p
type Event struct{ Type string }
type member struct{ kind string }
func (s *S) event(a int, typ string) *Event { return &Event{Type: typ} }
func state(kind string, on bool) string { if on { return kind + ".on" }; return kind + ".off" }
func (s *S) f(m *member, add bool) {
	s.event(1, "thing.made")
	s.event(2, state("lamp", add))
	typ := m.kind + ".joined"
	if add { typ = m.kind + ".left" }
	s.event(3, typ)
	_ = member{kind: "robot"}
}`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, n, err := scanEventTypes(t, []*ast.File{f})
	if err != nil || n != 1 {
		t.Fatalf("scan: %v, %d sinks", err, n)
	}
	slices.Sort(got)
	want := []string{"lamp.off", "lamp.on", "robot.joined", "robot.left", "thing.made"}
	if !slices.Equal(got, want) {
		t.Fatalf("scan = %q, want %q", got, want)
	}
	bad := strings.Replace(src, `"thing.made"`, `strings.ToLower("X")`, 1)
	f, _ = parser.ParseFile(token.NewFileSet(), "p.go", bad, 0)
	if _, _, err := scanEventTypes(t, []*ast.File{f}); err == nil {
		t.Fatal("a type the scanner cannot follow passed")
	}
}

func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, n, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// paramRef: an expression is parameter i of fn; its values are the
// arguments of fn's callers.
type paramRef struct {
	fn *ast.FuncDecl
	i  int
}

func (p paramRef) Error() string { return fmt.Sprintf("parameter %d of %s", p.i, p.fn.Name.Name) }

type eventScanner struct {
	funcs  map[string][]*ast.FuncDecl // by name (functions and methods)
	fields map[string][]string        // string literals set as a struct field, by field name
	calls  map[string][]callSite      // calls by the called name
	depth  int
}

type callSite struct {
	call *ast.CallExpr
	in   *ast.FuncDecl
}

// scanEventTypes returns the types recorded by one package's files and how
// many Event literals it found.
func scanEventTypes(t *testing.T, files []*ast.File) ([]string, int, error) {
	t.Helper()
	s := &eventScanner{funcs: map[string][]*ast.FuncDecl{}, fields: map[string][]string{}, calls: map[string][]callSite{}}
	type sink struct {
		lit *ast.CompositeLit
		in  *ast.FuncDecl
	}
	var sinks []sink
	for _, f := range files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			s.funcs[fn.Name.Name] = append(s.funcs[fn.Name.Name], fn)
			ast.Inspect(fn, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CallExpr:
					if name := calledName(x); name != "" {
						s.calls[name] = append(s.calls[name], callSite{x, fn})
					}
				case *ast.CompositeLit:
					if isEventType(x.Type) {
						sinks = append(sinks, sink{x, fn})
					}
					for _, el := range x.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							k, kok := kv.Key.(*ast.Ident)
							if v, ok := stringLit(kv.Value); kok && ok {
								s.fields[k.Name] = append(s.fields[k.Name], v)
							}
						}
					}
				}
				return true
			})
		}
	}
	var types []string
	for _, sk := range sinks {
		for _, el := range sk.lit.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if k, kok := kv.Key.(*ast.Ident); !ok || !kok || k.Name != "Type" {
				continue
			}
			vs, err := s.values(sk.in, kv.Value, nil)
			if err != nil {
				return nil, 0, err
			}
			for _, v := range vs {
				if !slices.Contains(types, v) {
					types = append(types, v)
				}
			}
		}
	}
	return types, len(sinks), nil
}

func isEventType(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name == "Event"
	case *ast.SelectorExpr:
		return x.Sel.Name == "Event"
	}
	return false
}

func calledName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

func stringLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

func paramIndex(fn *ast.FuncDecl, name string) int {
	i := 0
	for _, f := range fn.Type.Params.List {
		for _, n := range f.Names {
			if n.Name == name {
				return i
			}
			i++
		}
		if len(f.Names) == 0 {
			i++
		}
	}
	return -1
}

// values are the strings e (in fn) can be. env binds the parameters of a
// helper being followed to its caller's arguments.
func (s *eventScanner) values(fn *ast.FuncDecl, e ast.Expr, env map[string]func() ([]string, error)) ([]string, error) {
	if s.depth++; s.depth > 50 {
		return nil, errors.New("event type: recursion too deep")
	}
	defer func() { s.depth-- }()
	out, err := s.values1(fn, e, env)
	var p paramRef
	if errors.As(err, &p) && env == nil {
		// An unbound parameter: whatever the callers pass.
		err, out = nil, nil
		sites := s.calls[p.fn.Name.Name]
		if len(sites) == 0 {
			return nil, fmt.Errorf("event type: %v is never passed", p)
		}
		for _, cs := range sites {
			if p.i >= len(cs.call.Args) {
				continue // another function of that name
			}
			vs, err := s.values(cs.in, cs.call.Args[p.i], nil)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
		}
	}
	return out, err
}

func (s *eventScanner) values1(fn *ast.FuncDecl, e ast.Expr, env map[string]func() ([]string, error)) ([]string, error) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if v, ok := stringLit(x); ok {
			return []string{v}, nil
		}
	case *ast.ParenExpr:
		return s.values(fn, x.X, env)
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			break
		}
		l, err := s.values(fn, x.X, env)
		if err != nil {
			return nil, err
		}
		r, err := s.values(fn, x.Y, env)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, a := range l {
			for _, b := range r {
				out = append(out, a+b)
			}
		}
		return out, nil
	case *ast.SelectorExpr:
		if vs := s.fields[x.Sel.Name]; len(vs) > 0 {
			return vs, nil
		}
	case *ast.Ident:
		if f, ok := env[x.Name]; ok {
			return f()
		}
		if i := paramIndex(fn, x.Name); i >= 0 {
			return nil, paramRef{fn, i}
		}
		var out []string
		var err error
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			a, ok := n.(*ast.AssignStmt)
			if !ok || err != nil || len(a.Lhs) != len(a.Rhs) {
				return err == nil
			}
			for i, l := range a.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name == x.Name {
					var vs []string
					vs, err = s.values(fn, a.Rhs[i], env)
					out = append(out, vs...)
				}
			}
			return err == nil
		})
		if err != nil || len(out) > 0 {
			return out, err
		}
	case *ast.CallExpr:
		// A helper of this package that builds the type: its returns,
		// with its parameters bound to this call's arguments.
		id, ok := x.Fun.(*ast.Ident)
		if !ok || len(s.funcs[id.Name]) != 1 {
			break
		}
		g := s.funcs[id.Name][0]
		inner := map[string]func() ([]string, error){}
		for i, arg := range x.Args {
			for _, f := range g.Type.Params.List {
				for _, n := range f.Names {
					if paramIndex(g, n.Name) == i {
						inner[n.Name] = func() ([]string, error) { return s.values(fn, arg, env) }
					}
				}
			}
		}
		var out []string
		var err error
		ast.Inspect(g.Body, func(n ast.Node) bool {
			r, ok := n.(*ast.ReturnStmt)
			if !ok || err != nil || len(r.Results) != 1 {
				return err == nil
			}
			var vs []string
			vs, err = s.values(g, r.Results[0], inner)
			out = append(out, vs...)
			return err == nil
		})
		if err != nil || len(out) > 0 {
			return out, err
		}
	}
	return nil, fmt.Errorf("event type: cannot follow %T in %s; record types as literals or extend this scanner", e, fn.Name.Name)
}
