package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

func (u *UI) registerPolicies(e *echo.Echo) {
	e.GET("/console/realms/:realm/policies", u.page(u.policiesPage))
	e.POST("/console/realms/:realm/policies", u.page(u.createPolicy))
	// The test panel answers on the page it was sent from; a GET of its
	// address (a reload after the answer) goes back to the list.
	e.GET("/console/realms/:realm/policies/test", u.page(func(r *req) error {
		return r.c.Redirect(http.StatusSeeOther, policiesPath(r.realm))
	}))
	e.POST("/console/realms/:realm/policies/test", u.page(u.testPolicies))
	e.GET("/console/realms/:realm/policies/:id", u.page(u.policyPage))
	e.POST("/console/realms/:realm/policies/:id", u.page(u.updatePolicy))
	e.GET("/console/realms/:realm/policies/:id/delete", u.page(u.confirmDeletePolicy))
	e.POST("/console/realms/:realm/policies/:id/delete", u.page(u.deletePolicy))
}

// policySubjectLimit bounds the users and service accounts offered in the test
// panel's menu; others can still be typed.
const policySubjectLimit = 200

// policyTest is the test panel: its inputs and errors are kept apart from
// the policy form's (both name a resource type), and its answer.
type policyTest struct {
	Form     url.Values
	Errors   fieldErrors
	Result   *realm.PolicyTestResult
	Users    []realm.User
	Services []realm.Client
	More     bool // the menu does not list every subject
}

// OtherHint explains the typed subject field.
func (t policyTest) OtherHint() string {
	h := "A user's email or ID, or a client_id; it is used instead of the menu."
	if t.More {
		h += " The menu lists only the first users and service accounts."
	}
	return h
}

// conditionError is where a refused condition is wrong, for the caret
// excerpt and for policy.js, which puts the cursor there.
type conditionError struct {
	Line, Column int
	Text         string // the offending line
	Pad          string // the line's text before the column, blanked but for tabs
}

// policiesView is the data of console/policies.html.
type policiesView struct {
	base
	Policies    []realm.Policy
	Next        string
	Paged       bool // a page after the first: the pager links back
	CursorError string
	Q           string
	Test        policyTest
	CondErr     *conditionError
}

// policyView is the data of console/policy.html.
type policyView struct {
	base
	P             *realm.Policy
	Test          policyTest
	CondErr       *conditionError
	ConfirmDelete bool
}

func (u *UI) policiesPage(r *req) error {
	return u.showPolicies(r, http.StatusOK, nil, nil, nil)
}

// showPolicies renders the list. f and fe are a refused new-policy form;
// test is a test panel that was sent (nil: a fresh panel).
func (u *UI) showPolicies(r *req, status int, f url.Values, fe fieldErrors, test *policyTest) error {
	b, err := r.base("Policies", "policies")
	if err != nil {
		return r.fail(err)
	}
	q := strings.TrimSpace(r.c.QueryParam("q"))
	v := &policiesView{base: b, Q: q, Paged: r.c.QueryParam("cursor") != ""}
	var cursor string
	if cursor, v.CursorError = listCursor(r); v.CursorError != "" {
		// A broken page link lists nothing (listCursor says why); the
		// forms below still work.
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
	} else {
		list, err := u.svc.ListPolicies(r.ctx, r.realm, realm.ListOptions{Query: q, Cursor: cursor})
		if err != nil {
			return r.fail(err)
		}
		v.Policies, v.Next = list.Items, list.NextCursor
	}
	if f != nil {
		v.Form, v.Errors = f, fe
		v.CondErr = conditionAt(fe["condition"], f.Get("condition"))
	}
	if test == nil {
		test = &policyTest{Form: url.Values{}, Errors: fieldErrors{}}
	}
	if err := u.testSubjects(r, test); err != nil {
		return r.fail(err)
	}
	v.Test = *test
	return r.render(status, "policies.html", v)
}

// policyInput reads the policy form. Actions are one per line or
// separated by commas; a condition typed in a browser comes with CRLF line
// ends, kept as LF so that stored conditions read the same everywhere.
func policyInput(f url.Values) realm.PolicyInput {
	var actions []string
	for _, l := range lines(f.Get("actions")) {
		for _, a := range strings.Split(l, ",") {
			if a = strings.TrimSpace(a); a != "" {
				actions = append(actions, a)
			}
		}
	}
	return realm.PolicyInput{
		Name: strings.TrimSpace(f.Get("name")), Description: f.Get("description"),
		ResourceType: strings.TrimSpace(f.Get("resource_type")), Actions: actions,
		Condition: strings.ReplaceAll(f.Get("condition"), "\r\n", "\n"),
	}
}

// policyRefused maps the service's field errors to the form: an action's
// error (actions[2]) belongs to the actions textarea and names the action.
func policyRefused(err error, in realm.PolicyInput) (fieldErrors, int, bool) {
	fe, status, ok := refused(err)
	if !ok {
		return nil, 0, false
	}
	for k, msg := range fe {
		if !strings.HasPrefix(k, "actions[") {
			continue
		}
		delete(fe, k)
		if i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(k, "actions["), "]")); err == nil && i < len(in.Actions) {
			msg = strconv.Quote(in.Actions[i]) + " " + msg
		}
		if _, dup := fe["actions"]; !dup {
			fe["actions"] = msg
		}
	}
	return fe, status, true
}

func (u *UI) createPolicy(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	in := policyInput(f)
	p, err := u.svc.CreatePolicy(r.ctx, r.realm, in)
	if err != nil {
		if fe, status, ok := policyRefused(err, in); ok {
			return u.showPolicies(r, status, f, fe, nil)
		}
		return r.fail(err)
	}
	return r.done(f, policyPath(r.realm, p.ID), "Policy "+p.Name+" created.")
}

func (u *UI) policyPage(r *req) error {
	return u.showPolicy(r, r.c.Param("id"), http.StatusOK, nil, nil, nil, false)
}

func (u *UI) confirmDeletePolicy(r *req) error {
	return u.showPolicy(r, r.c.Param("id"), http.StatusOK, nil, nil, nil, true)
}

// showPolicy renders one policy with its edit form (f, fe: a refused one)
// and the test panel (test: one that was sent), or the confirmation of its
// deletion.
func (u *UI) showPolicy(r *req, id string, status int, f url.Values, fe fieldErrors, test *policyTest, confirm bool) error {
	p, err := u.svc.GetPolicy(r.ctx, r.realm, id)
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base("Policy "+p.Name, "policies")
	if err != nil {
		return r.fail(err)
	}
	v := &policyView{base: b, P: p, ConfirmDelete: confirm}
	if f != nil {
		v.Form, v.Errors = f, fe
		v.CondErr = conditionAt(fe["condition"], f.Get("condition"))
	} else {
		v.Form.Set("name", p.Name)
		v.Form.Set("description", p.Description)
		v.Form.Set("resource_type", p.ResourceType)
		v.Form.Set("actions", strings.Join(p.Actions, "\n"))
		v.Form.Set("condition", p.Condition)
	}
	if test == nil {
		// The panel starts with the question this policy answers.
		test = &policyTest{Form: url.Values{}, Errors: fieldErrors{}}
		test.Form.Set("resource_type", p.ResourceType)
		if len(p.Actions) > 0 && p.Actions[0] != "*" {
			test.Form.Set("action", p.Actions[0])
		}
		test.Form.Set("resource", "{}")
	}
	if err := u.testSubjects(r, test); err != nil {
		return r.fail(err)
	}
	v.Test = *test
	return r.render(status, "policy.html", v)
}

func (u *UI) updatePolicy(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	in := policyInput(f)
	p, err := u.svc.UpdatePolicy(r.ctx, r.realm, r.c.Param("id"), realm.PolicyPatch{
		Name: &in.Name, Description: &in.Description, ResourceType: &in.ResourceType,
		Actions: &in.Actions, Condition: &in.Condition,
	})
	if err != nil {
		if fe, status, ok := policyRefused(err, in); ok {
			return u.showPolicy(r, r.c.Param("id"), status, f, fe, nil, false)
		}
		return r.fail(err)
	}
	return r.done(f, policyPath(r.realm, p.ID), "Policy "+p.Name+" saved.")
}

func (u *UI) deletePolicy(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	id := r.c.Param("id")
	// The name is for the flash message; a policy already gone is the
	// service's 404 below.
	name := id
	if p, err := u.svc.GetPolicy(r.ctx, r.realm, id); err == nil {
		name = p.Name
	}
	if err := u.svc.DeletePolicy(r.ctx, r.realm, id); err != nil {
		return r.fail(err)
	}
	return r.done(f, policiesPath(r.realm), "Policy "+name+" deleted.")
}

// testPolicies answers the test panel on the page it was sent from (the
// list, or the policy named by the form's "policy"), keeping its inputs.
// It changes nothing, so it is not remembered as a handled form: the same
// question may be asked again.
func (u *UI) testPolicies(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	test := &policyTest{Form: f, Errors: fieldErrors{}}
	status := http.StatusOK
	in, fe := u.testInput(r, f)
	if len(fe) == 0 {
		res, err := u.svc.TestPolicies(r.ctx, r.realm, in)
		switch {
		case err == nil:
			test.Result = res
		default:
			var ok bool
			if fe, status, ok = refused(err); !ok {
				return r.fail(err)
			}
		}
	} else {
		status = http.StatusBadRequest
	}
	for k, msg := range fe {
		switch {
		case k == "resource_type" || k == "action" || k == "resource":
			test.Errors[k] = msg
		case strings.HasPrefix(k, "subject"):
			// Next to the input the subject came from: the menu, or the
			// text field that overrides it.
			if strings.TrimSpace(f.Get("subject_other")) != "" {
				test.Errors["subject_other"] = msg
			} else {
				test.Errors["subject"] = msg
			}
		default:
			test.Errors[""] = msg
		}
	}
	if id := f.Get("policy"); id != "" {
		return u.showPolicy(r, id, status, nil, nil, test, false)
	}
	return u.showPolicies(r, status, nil, nil, test)
}

// testInput reads the test panel. The subject is the menu's choice
// ("user:ID" or "client:CLIENT_ID") unless something is typed in
// subject_other: an email or ID of a user, or a client_id.
func (u *UI) testInput(r *req, f url.Values) (realm.PolicyTestInput, fieldErrors) {
	fe := fieldErrors{}
	in := realm.PolicyTestInput{ResourceType: strings.TrimSpace(f.Get("resource_type")), Action: strings.TrimSpace(f.Get("action"))}
	if other := strings.TrimSpace(f.Get("subject_other")); other != "" {
		switch id, err := u.findSubject(r, other); {
		case err == nil:
			in.UserID, in.ClientID = id.user, id.client
		case errors.Is(err, realm.ErrNotFound):
			fe["subject_other"] = "there is no user with the email " + other
		default:
			fe[""] = "The subject could not be looked up; try again."
		}
	} else {
		kind, id, _ := strings.Cut(f.Get("subject"), ":")
		switch {
		case kind == "user" && id != "":
			in.UserID = id
		case kind == "client" && id != "":
			in.ClientID = id
		default:
			fe["subject"] = "choose a user or service account, or type one"
		}
	}
	if raw := strings.TrimSpace(f.Get("resource")); raw != "" {
		if err := json.Unmarshal([]byte(raw), &in.Resource); err != nil {
			fe["resource"] = "must be a JSON object, such as {\"owner\": \"u1\", \"region\": \"eu\"}: " + policyJSONProblem(err)
		}
	}
	return in, fe
}

// policyJSONProblem says where a JSON text is wrong, without Go's type names.
func policyJSONProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "invalid JSON at character " + strconv.FormatInt(se.Offset, 10)
	}
	return "it is not an object"
}

type policySubject struct{ user, client string }

// findSubject resolves a typed subject: an email (exactly, ignoring case)
// names a user; anything else is a user ID when there is such a user, else
// a client_id (the service says when there is no such client).
func (u *UI) findSubject(r *req, s string) (policySubject, error) {
	if strings.Contains(s, "@") {
		page, err := u.svc.ListUsers(r.ctx, r.realm, realm.ListOptions{Query: s, Limit: policySubjectLimit})
		if err != nil {
			return policySubject{}, err
		}
		for _, usr := range page.Items {
			if strings.EqualFold(usr.Email, s) {
				return policySubject{user: usr.ID}, nil
			}
		}
		return policySubject{}, realm.ErrNotFound
	}
	switch _, err := u.svc.GetUser(r.ctx, r.realm, s); {
	case err == nil:
		return policySubject{user: s}, nil
	case errors.Is(err, realm.ErrNotFound):
		return policySubject{client: s}, nil
	default:
		return policySubject{}, err
	}
}

// testSubjects fills the test panel's menu: the realm's first users and
// service accounts.
func (u *UI) testSubjects(r *req, t *policyTest) error {
	users, err := u.svc.ListUsers(r.ctx, r.realm, realm.ListOptions{Limit: policySubjectLimit})
	if err != nil {
		return err
	}
	clients, err := u.svc.ListClients(r.ctx, r.realm, realm.ListOptions{Limit: policySubjectLimit})
	if err != nil {
		return err
	}
	t.Users = users.Items
	for _, c := range clients.Items {
		if c.Kind == realm.KindServiceAccount {
			t.Services = append(t.Services, c)
		}
	}
	t.More = users.NextCursor != "" || clients.NextCursor != ""
	return nil
}

// compileErrorAt is the service's condition error: "line L, column C:
// message" (attributes.CompileError).
var compileErrorAt = regexp.MustCompile(`^line (\d+), column (\d+): `)

// conditionAt finds the line and column a condition error names in the
// condition as typed, nil when it names none (or they are not in it).
func conditionAt(msg, condition string) *conditionError {
	m := compileErrorAt.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	ls := strings.Split(strings.ReplaceAll(condition, "\r\n", "\n"), "\n")
	if line < 1 || line > len(ls) || col < 1 {
		return nil
	}
	text := ls[line-1]
	// CEL counts columns in code points; a tab stays a tab under the
	// line so that the caret lines up however wide tabs are shown.
	var pad strings.Builder
	n := 0
	for _, c := range text {
		if n == col-1 {
			break
		}
		if c == '\t' {
			pad.WriteRune('\t')
		} else {
			pad.WriteRune(' ')
		}
		n++
	}
	if col-1 > utf8.RuneCountInString(text) {
		pad.WriteString(strings.Repeat(" ", col-1-n))
	}
	return &conditionError{Line: line, Column: col, Text: text, Pad: pad.String()}
}

func policiesPath(realmName string) string {
	return realmPath(realmName, "policies")
}

func policyPath(realmName, id string) string {
	return realmPath(realmName, "policies", id)
}
