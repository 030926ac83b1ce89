package attributes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Policy is one permission rule of a realm (CONTRACT §5): Condition, a CEL
// expression, decides whether a subject may perform one of Actions on a
// resource of ResourceType. Ward stores and distributes policies; the
// Guard evaluates them, deny by default.
type Policy struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	ResourceType string   `json:"resource_type"`
	Actions      []string `json:"actions"`
	Condition    string   `json:"condition"`
}

// The variables a condition sees. subject is the access token's claims
// (sub, client_id, kind, groups, attributes, …); resource is the map the
// resource server's loader returns; action is the action asked for;
// request carries facts about the HTTP request (ip, time).
const (
	VarSubject  = "subject"
	VarResource = "resource"
	VarAction   = "action"
	VarRequest  = "request"
)

// PolicyCostLimit bounds the CEL cost of evaluating one condition, so that
// no policy (a comprehension over a large list, nested loops) can stall a
// server: an evaluation that reaches it fails, and a failed policy allows
// nothing. Ordinary conditions cost tens.
const PolicyCostLimit = 10_000

// MaxConditionLength bounds a condition's source.
const MaxConditionLength = 4096

// CompileError is a condition that does not compile: what is wrong and
// where (1-based line and column; 0 when the error has no position).
type CompileError struct {
	Line, Column int
	Message      string
}

func (e *CompileError) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// policyEnv is the CEL environment every condition is compiled in, built
// once (it is immutable; building it costs milliseconds).
var policyEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable(VarSubject, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarResource, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarAction, cel.StringType),
		cel.Variable(VarRequest, cel.MapType(cel.StringType, cel.DynType)),
	)
})

// CompiledPolicy is a policy ready to evaluate.
type CompiledPolicy struct {
	Policy
	program cel.Program
}

// CompilePolicy parses and type-checks p.Condition, which must be a
// boolean expression over subject, resource, action and request. With the
// realm's attribute definitions (defs non-nil), a reference to
// subject.attributes.NAME for an attribute the realm does not define is an
// error at that position: a typo would otherwise silently never match. The
// error is a *CompileError.
func CompilePolicy(p Policy, defs []Definition) (*CompiledPolicy, error) {
	if len(p.Condition) > MaxConditionLength {
		return nil, &CompileError{Message: fmt.Sprintf("the condition is longer than %d bytes", MaxConditionLength)}
	}
	env, err := policyEnv()
	if err != nil {
		return nil, fmt.Errorf("attributes: policy environment: %w", err)
	}
	ast, iss := env.Compile(p.Condition)
	if iss != nil && iss.Err() != nil {
		return nil, firstIssue(iss)
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, &CompileError{Line: 1, Column: 1, Message: fmt.Sprintf("the condition must be a boolean, not %s", t)}
	}
	if defs != nil {
		if err := checkAttributeRefs(ast, defs); err != nil {
			return nil, err
		}
	}
	prg, err := env.Program(ast, cel.CostTracking(concatCosts{}), cel.CostLimit(PolicyCostLimit),
		cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, &CompileError{Message: err.Error()}
	}
	return &CompiledPolicy{Policy: p, program: prg}, nil
}

// CheckPolicy is what a policy must pass to be written (Ward's admin API
// calls it on create, and on update when the condition changes). On top
// of CompilePolicy's checks it
//
//   - type-checks references written subject.attributes.NAME against the
//     definitions' types (a multi-valued attribute is a list), so that
//     comparing a string attribute with a number, or an integer one with a
//     string, is an error at its position instead of a policy that never
//     matches; and
//   - refuses a condition whose estimated cost is at least PolicyCostLimit
//     whatever the input (its minimum), since every evaluation would fail.
//
// Evaluation (the Guard, policies:test, distribution) keeps CompilePolicy,
// which is unchanged: a policy written before these checks, or left
// behind by a change of an attribute's type, still loads and behaves as
// before (a comparison of mismatched types is false or an error at run
// time, and an error allows nothing). The error is a *CompileError.
func CheckPolicy(p Policy, defs []Definition) error {
	if _, err := CompilePolicy(p, defs); err != nil {
		return err
	}
	env, err := typedEnv(defs)
	if err != nil {
		return fmt.Errorf("attributes: typed policy environment: %w", err)
	}
	ast, iss := env.Compile(p.Condition)
	if iss != nil && iss.Err() != nil {
		return firstIssue(iss)
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return &CompileError{Line: 1, Column: 1, Message: fmt.Sprintf("the condition must be a boolean, not %s", t)}
	}
	est, err := env.EstimateCost(ast, noSizeHints{})
	if err != nil {
		return &CompileError{Message: "the condition's cost cannot be estimated: " + err.Error()}
	}
	if est.Min > PolicyCostLimit {
		return &CompileError{Message: fmt.Sprintf("the condition costs at least %d to evaluate, over the limit of %d: "+
			"every evaluation would fail and allow nothing (loop over fewer values)", est.Min, PolicyCostLimit)}
	}
	return nil
}

// typedEnv is the policy environment with each attribute's type declared
// as a variable named subject.attributes.NAME. CEL's checker resolves a
// select chain to a declared qualified name before it looks at the
// operand, so subject.attributes.region is checked as a string while
// subject stays a map of dyn: every other claim, the index form
// subject.attributes["region"], has(subject.attributes.region) (a test,
// never resolved as a name) and the absent-attribute error at run time
// are as in the evaluation environment. Integer and number attributes may
// be compared with each other's literals (2 < 2.5), as at run time, where
// JSON numbers are doubles; equality needs the literal of the declared
// type, as CEL's checker wants.
func typedEnv(defs []Definition) (*cel.Env, error) {
	base, err := policyEnv()
	if err != nil {
		return nil, err
	}
	opts := []cel.EnvOption{cel.CrossTypeNumericComparisons(true)}
	for _, d := range defs {
		if !ValidName(d.Name) {
			continue
		}
		t := celType(d.Type)
		if d.Multi {
			t = cel.ListType(t)
		}
		opts = append(opts, cel.Variable(VarSubject+".attributes."+d.Name, t))
	}
	return base.Extend(opts...)
}

// celType is how a value of type t looks to a policy: dates are the
// token's YYYY-MM-DD strings.
func celType(t Type) *cel.Type {
	switch t {
	case String, Date:
		return cel.StringType
	case Integer:
		return cel.IntType
	case Number:
		return cel.DoubleType
	case Boolean:
		return cel.BoolType
	}
	return cel.DynType
}

// noSizeHints leaves every size unknown: the minimum estimate then counts
// only what is certain (literal lists), which is what CheckPolicy refuses
// on; the maximum, unbounded for any input list, is not used.
type noSizeHints struct{}

func (noSizeHints) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (noSizeHints) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

// concatCosts charges a concatenation by the size of what it builds. The
// variables are maps of dyn, so "+" is dispatched at run time and CEL's
// own model (which prices add_string by length) does not see it: it would
// count 1 for joining two megabyte strings, and a condition that doubles a
// string in a loop could allocate gigabytes within the cost limit.
type concatCosts struct{}

func (concatCosts) CallCost(function, _ string, _ []ref.Val, result ref.Val) *uint64 {
	if function != operators.Add || result == nil {
		return nil
	}
	switch result.(type) {
	case types.String, types.Bytes, traits.Lister:
		c := 1 + cost.ActualSize(result)/10
		return &c
	}
	return nil
}

// policyTimeout bounds one condition's evaluation in wall time too, in case
// something the cost model prices low still takes long (checked between
// comprehension iterations).
const policyTimeout = 100 * time.Millisecond

// firstIssue turns CEL's first issue into a CompileError with a 1-based
// column (CEL counts columns from 0).
func firstIssue(iss *cel.Issues) *CompileError {
	errs := iss.Errors()
	if len(errs) == 0 {
		return &CompileError{Message: iss.String()}
	}
	e := errs[0]
	ce := &CompileError{Message: e.Message}
	if loc := e.Location; loc != nil && loc.Line() > 0 {
		ce.Line, ce.Column = loc.Line(), loc.Column()+1
	}
	return ce
}

// checkAttributeRefs finds references to subject.attributes.NAME (plain,
// in has(), or written subject.attributes["NAME"] with a literal) naming
// an attribute not in defs.
func checkAttributeRefs(ast *cel.Ast, defs []Definition) error {
	known := make(map[string]bool, len(defs))
	for _, d := range defs {
		known[d.Name] = true
	}
	native := ast.NativeRep()
	var bad *CompileError
	celast.PreOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if bad != nil {
			return
		}
		var operand celast.Expr
		var name string
		switch e.Kind() {
		case celast.SelectKind:
			operand, name = e.AsSelect().Operand(), e.AsSelect().FieldName()
		case celast.CallKind:
			call := e.AsCall()
			if call.FunctionName() != operators.Index || len(call.Args()) != 2 || call.Args()[1].Kind() != celast.LiteralKind {
				return
			}
			lit, ok := call.Args()[1].AsLiteral().Value().(string)
			if !ok {
				return
			}
			operand, name = call.Args()[0], lit
		default:
			return
		}
		if !isSubjectAttributes(operand) || known[name] {
			return
		}
		bad = &CompileError{Message: fmt.Sprintf("the realm has no attribute %q", name)}
		if loc := native.SourceInfo().GetStartLocation(e.ID()); loc.Line() > 0 {
			bad.Line, bad.Column = loc.Line(), loc.Column()+1
		}
	}))
	if bad != nil {
		return bad
	}
	return nil
}

// isSubjectAttributes reports whether e is subject.attributes (or
// subject["attributes"]).
func isSubjectAttributes(e celast.Expr) bool {
	var root celast.Expr
	switch e.Kind() {
	case celast.SelectKind:
		if e.AsSelect().FieldName() != "attributes" {
			return false
		}
		root = e.AsSelect().Operand()
	case celast.CallKind:
		call := e.AsCall()
		if call.FunctionName() != operators.Index || len(call.Args()) != 2 || call.Args()[1].Kind() != celast.LiteralKind {
			return false
		}
		if s, ok := call.Args()[1].AsLiteral().Value().(string); !ok || s != "attributes" {
			return false
		}
		root = call.Args()[0]
	default:
		return false
	}
	return root.Kind() == celast.IdentKind && root.AsIdent() == VarSubject
}

// Request is what one decision is about.
type Request struct {
	// Subject is the access token's claims.
	Subject      map[string]any
	ResourceType string
	Action       string
	// Resource is the resource's attributes as the loader returns them.
	Resource map[string]any
	// Context is the request variable: ip, time, …
	Context map[string]any
}

// Decision is the outcome of Evaluate.
type Decision struct {
	Allowed bool
	// Policies are the names of the policies that allowed, sorted.
	Policies []string
	// Errors are the policies that applied but could not be evaluated (a
	// missing key, the cost limit, a non-boolean result); they allow
	// nothing.
	Errors []PolicyError
}

// PolicyError is one policy's failed evaluation.
type PolicyError struct {
	Policy string
	Err    error
}

// ErrNotBoolean is a condition that evaluated to something else.
var ErrNotBoolean = errors.New("attributes: the condition did not evaluate to a boolean")

// eval runs the program with the wall-time bound.
func (p *CompiledPolicy) eval(vars map[string]any) (ref.Val, error) {
	ctx, cancel := context.WithTimeout(context.Background(), policyTimeout)
	defer cancel()
	out, _, err := p.program.ContextEval(ctx, vars)
	return out, err
}

// Applies reports whether the policy covers this resource type and action
// ("*" among its actions covers every action).
func (p *CompiledPolicy) Applies(resourceType, action string) bool {
	return p.ResourceType == resourceType && (slices.Contains(p.Actions, action) || slices.Contains(p.Actions, "*"))
}

// Evaluate decides req against policies, deny by default: it is allowed
// when at least one applicable policy's condition is true. Every
// applicable policy is evaluated, so the decision names all that allowed.
func Evaluate(policies []*CompiledPolicy, req Request) Decision {
	vars := map[string]any{
		VarSubject:  nonNilMap(req.Subject),
		VarResource: nonNilMap(req.Resource),
		VarAction:   req.Action,
		VarRequest:  nonNilMap(req.Context),
	}
	var d Decision
	for _, p := range policies {
		if !p.Applies(req.ResourceType, req.Action) {
			continue
		}
		allowed, err := p.decide(vars)
		if err != nil {
			d.Errors = append(d.Errors, PolicyError{Policy: p.Name, Err: err})
			continue
		}
		if allowed {
			d.Policies = append(d.Policies, p.Name)
		}
	}
	sort.Strings(d.Policies)
	d.Allowed = len(d.Policies) > 0
	return d
}

// decide evaluates the condition to a boolean.
func (p *CompiledPolicy) decide(vars map[string]any) (bool, error) {
	out, err := p.eval(vars)
	if err != nil {
		return false, err
	}
	allowed, ok := out.Value().(bool)
	if !ok {
		return false, ErrNotBoolean
	}
	return allowed, nil
}

// PolicyTrace is how one policy took part in a decision (Explain).
type PolicyTrace struct {
	Policy string
	// Allowed is what the condition evaluated to; with Err set, it
	// could not be evaluated and allows nothing.
	Allowed bool
	Err     error
}

// Explain is Evaluate told policy by policy: for each policy of the
// request's resource type and action, in the given order, what its
// condition evaluated to or why it could not be. It is for people asking
// why (the console's policy tester), not for the Guard's every request.
func Explain(policies []*CompiledPolicy, req Request) []PolicyTrace {
	vars := map[string]any{
		VarSubject:  nonNilMap(req.Subject),
		VarResource: nonNilMap(req.Resource),
		VarAction:   req.Action,
		VarRequest:  nonNilMap(req.Context),
	}
	var out []PolicyTrace
	for _, p := range policies {
		if !p.Applies(req.ResourceType, req.Action) {
			continue
		}
		allowed, err := p.decide(vars)
		out = append(out, PolicyTrace{Policy: p.Name, Allowed: allowed && err == nil, Err: err})
	}
	return out
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
