package realm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wardiam/ward/attributes"
)

// Policy is one permission rule of a realm (CONTRACT §3, §5): Condition, a
// CEL expression over subject, resource, action and request, decides
// whether a subject may perform one of Actions on a resource of
// ResourceType. Ward stores, checks and distributes policies; resource
// servers evaluate them with the attributes Guard.
type Policy struct {
	ID           string
	RealmID      string
	Name         string
	Description  string
	ResourceType string
	Actions      []string
	Condition    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Rule is the part of the policy the attributes library reads.
func (p Policy) Rule() attributes.Policy {
	return attributes.Policy{Name: p.Name, Description: p.Description, ResourceType: p.ResourceType,
		Actions: slices.Clone(p.Actions), Condition: p.Condition}
}

// PolicyStore keeps policies.
type PolicyStore interface {
	CreatePolicy(ctx context.Context, p *Policy) error
	GetPolicy(ctx context.Context, realmID, id string) (*Policy, error)
	// ListPolicies orders by ID; Query matches name, description and
	// resource type.
	ListPolicies(ctx context.Context, realmID string, opts ListOptions) (Page[Policy], error)
	// ListAllPolicies lists every policy of the realm ordered by name
	// (evaluation and distribution read them all).
	ListAllPolicies(ctx context.Context, realmID string) ([]Policy, error)
	// UpdatePolicy saves every field but the IDs and creation time.
	UpdatePolicy(ctx context.Context, p *Policy) error
	DeletePolicy(ctx context.Context, realmID, id string) error
}

// PolicyInput creates a policy.
type PolicyInput struct {
	Name         string
	Description  string
	ResourceType string
	Actions      []string
	Condition    string
}

// PolicyPatch changes the fields that are non-nil.
type PolicyPatch struct {
	Name         *string
	Description  *string
	ResourceType *string
	Actions      *[]string
	Condition    *string
}

// Limits on a policy. A policy names a handful of actions; more is a
// mistake, and every one is compared on every decision.
const maxPolicyActions = 50

// actionPattern is the rule for resource types and action names: short,
// lower-case identifiers that read well in code (g.Echo("asset", "read")).
var actionPattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)

const actionRule = "must start with a lower-case letter, then lower-case letters, digits, underscores, dots or hyphens (at most 63 characters)"

func checkResourceType(v *ValidationError, field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		v.Add(field, "is required")
	} else if !actionPattern.MatchString(s) {
		v.Add(field, actionRule)
	}
	return s
}

// checkActions: at least one, each an action name or "*" (every action),
// no duplicates.
func checkActions(v *ValidationError, actions []string) []string {
	if len(actions) == 0 {
		v.Add("actions", "must name at least one action (or \"*\" for every action)")
		return nil
	}
	if len(actions) > maxPolicyActions {
		v.Add("actions", fmt.Sprintf("must name at most %d actions", maxPolicyActions))
		return nil
	}
	out := make([]string, len(actions))
	for i, a := range actions {
		field := fmt.Sprintf("actions[%d]", i)
		switch {
		case a != "*" && !actionPattern.MatchString(a):
			v.Add(field, actionRule+` or be "*"`)
		case slices.Contains(out[:i], a):
			v.Add(field, "is a duplicate")
		}
		out[i] = a
	}
	return out
}

// definitionsOf converts the realm's attribute definitions for the
// attributes library.
func definitionsOf(defs []Attribute) []attributes.Definition {
	out := make([]attributes.Definition, len(defs))
	for i, d := range defs {
		out[i] = d.Definition()
	}
	return out
}

// checkCondition compiles the condition against the realm's definitions and
// names the field with the error's line and column ("line L, column C:
// ..."), so that admins find the mistake at once. A new condition (strict)
// must also pass attributes.CheckPolicy: attribute types and the cost
// limit. A condition stored before those checks, or left behind by a
// change of an attribute's type, is only compiled when another field of
// its policy changes, so that it can still be renamed; evaluation keeps
// its old behaviour either way.
func checkCondition(v *ValidationError, p attributes.Policy, defs []attributes.Definition, strict bool) {
	if strings.TrimSpace(p.Condition) == "" {
		v.Add("condition", "is required")
		return
	}
	check := func() error { _, err := attributes.CompilePolicy(p, defs); return err }
	if strict {
		check = func() error { return attributes.CheckPolicy(p, defs) }
	}
	if err := check(); err != nil {
		var ce *attributes.CompileError
		if errors.As(err, &ce) {
			v.Add("condition", ce.Error())
			return
		}
		v.Add("condition", "does not compile: "+err.Error())
	}
}

// ListPolicies lists a realm's policies.
func (s *Service) ListPolicies(ctx context.Context, realmName string, o ListOptions) (Page[Policy], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[Policy]{}, err
	}
	if o, err = pageOptions(o); err != nil {
		return Page[Policy]{}, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return Page[Policy]{}, err
	}
	return s.store.ListPolicies(ctx, r.ID, o)
}

// GetPolicy returns one policy of the realm.
func (s *Service) GetPolicy(ctx context.Context, realmName, id string) (*Policy, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return nil, err
	}
	return s.store.GetPolicy(ctx, r.ID, id)
}

// CreatePolicy stores a policy whose condition compiles against the realm's
// attribute definitions. Names are unique per realm case-insensitively
// (409 naming "name"), as group names are: decisions name the policies
// that allowed.
func (s *Service) CreatePolicy(ctx context.Context, realmName string, in PolicyInput) (*Policy, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	p := &Policy{
		Name:         requiredName(v, "name", in.Name),
		Description:  optionalText(v, "description", in.Description, maxDescriptionLen),
		ResourceType: checkResourceType(v, "resource_type", in.ResourceType),
		Actions:      checkActions(v, in.Actions),
		Condition:    in.Condition,
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		defs, err := tx.ListAttributes(ctx, r.ID)
		if err != nil {
			return err
		}
		checkCondition(v, p.Rule(), definitionsOf(defs), true)
		if err := v.OrNil(); err != nil {
			return err
		}
		now := s.now()
		p.ID, p.RealmID, p.CreatedAt, p.UpdatedAt = s.newID(), r.ID, now, now
		if err := tx.CreatePolicy(ctx, p); err != nil {
			return asConflict(err, "name", fmt.Sprintf("a policy named %q already exists", p.Name))
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventPolicyCreated, "policy", p.ID,
			map[string]any{"name": p.Name, "resource_type": p.ResourceType, "actions": p.Actions}))
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// UpdatePolicy changes a policy. The condition is compiled again whenever
// the policy changes, against the definitions of now: a policy saved
// earlier may have been left behind by a schema change, and a write must
// never store something that does not compile.
func (s *Service) UpdatePolicy(ctx context.Context, realmName, id string, patch PolicyPatch) (*Policy, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	var name, desc, rtype string
	var actions []string
	if patch.Name != nil {
		name = requiredName(v, "name", *patch.Name)
	}
	if patch.Description != nil {
		desc = optionalText(v, "description", *patch.Description, maxDescriptionLen)
	}
	if patch.ResourceType != nil {
		rtype = checkResourceType(v, "resource_type", *patch.ResourceType)
	}
	if patch.Actions != nil {
		actions = checkActions(v, *patch.Actions)
	}
	var p *Policy
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		if p, err = tx.GetPolicy(ctx, r.ID, id); err != nil {
			return err
		}
		var ch changed
		if patch.Name != nil && name != p.Name {
			p.Name = name
			ch.add("name")
		}
		if patch.Description != nil && desc != p.Description {
			p.Description = desc
			ch.add("description")
		}
		if patch.ResourceType != nil && rtype != p.ResourceType {
			p.ResourceType = rtype
			ch.add("resource_type")
		}
		if patch.Actions != nil && !slices.Equal(actions, p.Actions) {
			p.Actions = actions
			ch.add("actions")
		}
		if patch.Condition != nil && *patch.Condition != p.Condition {
			p.Condition = *patch.Condition
			ch.add("condition")
		}
		if err := v.OrNil(); err != nil {
			return err
		}
		if len(ch) == 0 {
			return nil
		}
		defs, err := tx.ListAttributes(ctx, r.ID)
		if err != nil {
			return err
		}
		checkCondition(v, p.Rule(), definitionsOf(defs), ch.has("condition"))
		if err := v.OrNil(); err != nil {
			return err
		}
		p.UpdatedAt = s.now()
		if err := tx.UpdatePolicy(ctx, p); err != nil {
			return asConflict(err, "name", fmt.Sprintf("a policy named %q already exists", p.Name))
		}
		d := ch.details()
		d["name"] = p.Name
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventPolicyUpdated, "policy", p.ID, d))
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DeletePolicy removes a policy.
func (s *Service) DeletePolicy(ctx context.Context, realmName, id string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		p, err := tx.GetPolicy(ctx, r.ID, id)
		if err != nil {
			return err
		}
		if err := tx.DeletePolicy(ctx, r.ID, id); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventPolicyDeleted, "policy", p.ID,
			map[string]any{"name": p.Name}))
	})
}

// checkAttributeUnusedByPolicies refuses (409 naming "name") to delete an
// attribute definition that a policy's condition refers to as
// subject.attributes.NAME: the policy would stop compiling and, silently,
// stop allowing anything. It finds them by compiling each policy with and
// without the definition, so it agrees exactly with the compiler.
// DeleteAttribute calls it inside its transaction.
func checkAttributeUnusedByPolicies(ctx context.Context, tx Store, realmID, name string) error {
	policies, err := tx.ListAllPolicies(ctx, realmID)
	if err != nil || len(policies) == 0 {
		return err
	}
	defs, err := tx.ListAttributes(ctx, realmID)
	if err != nil {
		return err
	}
	all := definitionsOf(defs)
	without := slices.DeleteFunc(slices.Clone(all), func(d attributes.Definition) bool { return d.Name == name })
	var users []string
	for _, p := range policies {
		if _, err := attributes.CompilePolicy(p.Rule(), all); err != nil {
			continue // already broken; deleting changes nothing for it
		}
		if _, err := attributes.CompilePolicy(p.Rule(), without); err != nil {
			users = append(users, fmt.Sprintf("%q", p.Name))
		}
	}
	if len(users) > 0 {
		return Conflict("name", fmt.Sprintf("attribute %q is used by the condition of policy %s; change those policies first",
			name, strings.Join(users, ", ")))
	}
	return nil
}

// compiledPolicies returns the realm's policies that compile against its
// current attribute definitions, ready to evaluate, ordered by name. A
// policy left behind by a schema change is skipped: it allows nothing.
func (s *Service) compiledPolicies(ctx context.Context, st Store, realmID string) ([]*attributes.CompiledPolicy, error) {
	policies, err := st.ListAllPolicies(ctx, realmID)
	if err != nil || len(policies) == 0 {
		return nil, err
	}
	defs, err := st.ListAttributes(ctx, realmID)
	if err != nil {
		return nil, err
	}
	ds := definitionsOf(defs)
	out := make([]*attributes.CompiledPolicy, 0, len(policies))
	for _, p := range policies {
		cp, err := s.policyCache.Compile(p.Rule(), ds)
		if err != nil {
			continue
		}
		out = append(out, cp)
	}
	return out, nil
}

// DistributedPolicies is what GET /realms/{realm}/policies serves to the
// realm's clients: every policy of the realm (by ID, no principal: the
// caller has checked the client's token) that compiles against the current
// definitions, ordered by name.
func (s *Service) DistributedPolicies(ctx context.Context, realmID string) ([]attributes.Policy, error) {
	compiled, err := s.compiledPolicies(ctx, s.store, realmID)
	if err != nil {
		return nil, err
	}
	out := make([]attributes.Policy, len(compiled))
	for i, cp := range compiled {
		out[i] = cp.Policy
	}
	return out, nil
}

// PolicyTestInput is a question for TestPolicies: may this subject (a user
// or a client of the realm, exactly one) perform Action on a resource of
// ResourceType with these attributes?
type PolicyTestInput struct {
	UserID       string
	ClientID     string
	ResourceType string
	Action       string
	Resource     map[string]any
}

// PolicyTestResult is the decision: allowed, the policies that allowed, and
// the applicable policies that failed to evaluate (they allow nothing).
type PolicyTestResult struct {
	Allowed  bool
	Policies []string
	Errors   []attributes.PolicyError
	// Explanation is, for each policy of the resource type and action,
	// what its condition evaluated to or its error, by policy name.
	Explanation []attributes.PolicyTrace
}

// TestPolicies evaluates the realm's policies for a subject as the Guard
// would for that subject's access token: the subject is built like the
// token's claims (sub, kind, email or client_id, groups by name, effective
// attributes) and passed through JSON, so numbers and dates look as they do
// to a resource server. Claims that depend on the token itself (iss, aud,
// exp, iat, jti, scope, sid, and a user token's client_id) are absent, and
// request has time (UTC, as the Guard sets it) but no ip. A deactivated
// subject is evaluated as it is: its tokens stop at their expiry, not here. It changes nothing, so viewers may ask too. An
// unknown user or client is a 400 naming subject.user_id or
// subject.client_id: the subject is part of the question asked.
func (s *Service) TestPolicies(ctx context.Context, realmName string, in PolicyTestInput) (*PolicyTestResult, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	switch {
	case in.UserID == "" && in.ClientID == "":
		v.Add("subject", "must have user_id or client_id")
	case in.UserID != "" && in.ClientID != "":
		v.Add("subject", "must have user_id or client_id, not both")
	}
	rtype := checkResourceType(v, "resource_type", in.ResourceType)
	action := checkResourceType(v, "action", in.Action)
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return nil, err
	}
	subject, err := s.testSubject(ctx, r.ID, in)
	if err != nil {
		return nil, err
	}
	policies, err := s.compiledPolicies(ctx, s.store, r.ID)
	if err != nil {
		return nil, err
	}
	req := attributes.Request{Subject: subject, ResourceType: rtype, Action: action,
		Resource: in.Resource, Context: map[string]any{"time": s.now().UTC().Format(time.RFC3339)}}
	d := attributes.Evaluate(policies, req)
	res := &PolicyTestResult{Allowed: d.Allowed, Policies: d.Policies, Errors: d.Errors, Explanation: attributes.Explain(policies, req)}
	slices.SortStableFunc(res.Explanation, func(a, b attributes.PolicyTrace) int { return strings.Compare(a.Policy, b.Policy) })
	if res.Policies == nil {
		res.Policies = []string{}
	}
	return res, nil
}

// testSubject builds the claims a token of the subject would carry.
func (s *Service) testSubject(ctx context.Context, realmID string, in PolicyTestInput) (map[string]any, error) {
	var claims map[string]any
	if in.UserID != "" {
		u, err := s.store.GetUser(ctx, realmID, in.UserID)
		if errors.Is(err, ErrNotFound) {
			return nil, Invalid("subject.user_id", "is not a user of this realm")
		}
		if err != nil {
			return nil, err
		}
		groups, attrs, err := subjectClaims(ctx, s.store, realmID, u.Groups, u.PrimaryGroup)
		if err != nil {
			return nil, err
		}
		claims = map[string]any{"sub": u.ID, "kind": "user", "email": u.Email, "given_name": u.FirstName,
			"family_name": u.LastName, "groups": groups, "attributes": attrs}
	} else {
		c, err := s.store.GetClient(ctx, realmID, in.ClientID)
		if errors.Is(err, ErrNotFound) {
			return nil, Invalid("subject.client_id", "is not a client of this realm")
		}
		if err != nil {
			return nil, err
		}
		groups, attrs, err := subjectClaims(ctx, s.store, realmID, c.Groups, c.PrimaryGroup)
		if err != nil {
			return nil, err
		}
		claims = map[string]any{"sub": c.ClientID, "client_id": c.ClientID, "kind": string(c.Kind),
			"groups": groups, "attributes": attrs}
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("realm: encode test subject: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("realm: decode test subject: %w", err)
	}
	return out, nil
}
