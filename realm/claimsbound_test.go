package realm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
)

// value is a distinct string attribute value of n characters.
func value(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }

// values is count distinct values of n characters.
func values(prefix string, count, n int) []any {
	out := make([]any, count)
	for i := range out {
		out[i] = value(fmt.Sprintf("%s%03d", prefix, i), n)
	}
	return out
}

// tokenClaimsBytes is how many bytes groups and effective attributes take
// in an access token: {"attributes":…,"groups":…} as JSON (CONTRACT §3
// claims; the oauth tests check a real token against it).
func tokenClaimsBytes(t *testing.T, groups []string, attrs map[string]any) int {
	t.Helper()
	slices.Sort(groups)
	b, err := json.Marshal(map[string]any{"groups": groups, "attributes": attrs})
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// TestAttributeValueBounds: a list of more than 200 values and a string
// value of more than 256 characters are 400 naming the attribute or the
// list item; at the bounds they are accepted. Nothing is written.
func TestAttributeValueBounds(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		e.realm("prod")
		e.attr("prod", "departments", "string", true)
		e.attr("prod", "region", "string", false)
		e.attr("prod", "levels", "integer", true)
		before := e.rows()
		long := []any{"news", "sport", "finance", strings.Repeat("é", 257)}
		_, err := e.svc.CreateGroup(e.admin, "prod", realm.GroupInput{Name: "G", Attributes: map[string]any{
			"departments": long, "region": strings.Repeat("r", 257), "levels": make([]any, 201)}})
		wantInvalid(t, err, "attributes.departments[3]", "attributes.region", "attributes.levels")
		e.sameRows(before)

		levels := make([]any, 200)
		for i := range levels {
			levels[i] = i
		}
		g, err := e.svc.CreateGroup(e.admin, "prod", realm.GroupInput{Name: "G", Attributes: map[string]any{
			"departments": []any{strings.Repeat("é", 256)}, "region": strings.Repeat("r", 256), "levels": levels}})
		if err != nil {
			t.Fatalf("values at the bounds: %v", err)
		}
		_, err = e.svc.UpdateGroup(e.admin, "prod", g.ID, realm.GroupPatch{Attributes: map[string]any{
			"departments": values("d", 201, 5)}})
		wantInvalid(t, err, "attributes.departments")
		got, err := e.svc.GetGroup(e.admin, "prod", g.ID)
		if err != nil || len(got.Attributes["levels"].([]any)) != 200 {
			t.Fatalf("the refused patch changed the group: %+v, %v", got, err)
		}
	})
}

// TestClaimsBound: no admin change may give a subject an access token
// whose groups and effective attributes exceed realm.MaxClaimsBytes: a
// group's own values (400), a subject created or patched into groups
// (400 naming groups or primary_group), joining or leaving a group, a
// group's new values or name for its members, deleting a group (409).
// Exactly at the bound is fine. Every refusal leaves everything as it was.
func TestClaimsBound(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		e.realm("prod")
		e.attr("prod", "tags", "string", true)
		e.attr("prod", "motto", "string", false)

		// A group whose values alone are exactly at the bound: 32 values
		// of 250 characters and one padding value.
		tags := values("t", 32, 250)
		base := tokenClaimsBytes(t, []string{"Solo"}, map[string]any{"tags": append(slices.Clone(tags), "")})
		pad := realm.MaxClaimsBytes - base
		if pad < 1 || pad > 256 {
			t.Fatalf("padding %d out of range", pad)
		}
		before := e.rows()
		_, err := e.svc.CreateGroup(e.admin, "prod", realm.GroupInput{Name: "Solo",
			Attributes: map[string]any{"tags": append(slices.Clone(tags), value("p", pad+1))}})
		wantInvalid(t, err, "attributes")
		e.sameRows(before)
		solo := e.group("prod", "Solo", map[string]any{"tags": append(slices.Clone(tags), value("p", pad))})
		u := e.user("prod", "solo@example.com", []string{solo.ID}, solo.ID)
		if n := tokenClaimsBytes(t, []string{"Solo"}, u.EffectiveAttributes); n != realm.MaxClaimsBytes {
			t.Fatalf("subject at the bound has %d bytes, want %d", n, realm.MaxClaimsBytes)
		}
		// A longer name pushes the group alone over.
		_, err = e.svc.UpdateGroup(e.admin, "prod", solo.ID, realm.GroupPatch{Name: ptr("Solo2")})
		wantInvalid(t, err, "name")

		// Two groups that fit alone but not together.
		a := e.group("prod", "A", map[string]any{"tags": values("a", 20, 250)})
		b := e.group("prod", "B", map[string]any{"tags": values("b", 20, 250)})
		before = e.rows()
		_, err = e.svc.CreateUser(e.admin, "prod", realm.UserInput{Email: "both@example.com", FirstName: "B", LastName: "Oth",
			Groups: []string{a.ID, b.ID}, PrimaryGroup: a.ID})
		wantInvalid(t, err, "groups")
		_, _, err = e.svc.CreateClient(e.admin, "prod", realm.ClientInput{Name: "Both", Kind: "service_account",
			ClientID: "both", Groups: []string{a.ID, b.ID}})
		wantInvalid(t, err, "groups")
		e.sameRows(before)

		ua := e.user("prod", "a@example.com", []string{a.ID}, a.ID)
		_, err = e.svc.AddUserToGroup(e.admin, "prod", ua.ID, b.ID)
		wantConflict(t, err, "groups")
		_, err = e.svc.UpdateUser(e.admin, "prod", ua.ID, realm.UserPatch{Groups: &[]string{a.ID, b.ID}})
		wantInvalid(t, err, "groups")
		ca, _, err := e.svc.CreateClient(e.admin, "prod", realm.ClientInput{Name: "A", Kind: "service_account",
			ClientID: "robot-a", Groups: []string{a.ID}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.AddClientToGroup(e.admin, "prod", ca.ClientID, b.ID)
		wantConflict(t, err, "groups")
		_, err = e.svc.UpdateClient(e.admin, "prod", ca.ClientID, realm.ClientPatch{Groups: &[]string{b.ID, a.ID}})
		wantInvalid(t, err, "groups")
		if got, _ := e.svc.GetUser(e.admin, "prod", ua.ID); !slices.Equal(got.Groups, []string{a.ID}) {
			t.Errorf("refused changes left the user in %v", got.Groups)
		}
		if got, _ := e.svc.GetClient(e.admin, "prod", ca.ClientID); !slices.Equal(got.Groups, []string{a.ID}) {
			t.Errorf("refused changes left the client in %v", got.Groups)
		}

		// A group without values joins fine; giving it values its members
		// cannot carry along with A is a conflict naming one of them.
		c := e.group("prod", "C", nil)
		if _, err := e.svc.AddUserToGroup(e.admin, "prod", ua.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.UpdateGroup(e.admin, "prod", c.ID, realm.GroupPatch{Attributes: map[string]any{"tags": values("c", 20, 250)}})
		wantConflict(t, err, "attributes")
		if !strings.Contains(err.Error(), "user "+ua.ID) {
			t.Errorf("conflict does not name the member: %v", err)
		}
		if got, _ := e.svc.GetGroup(e.admin, "prod", c.ID); len(got.Attributes) != 0 {
			t.Errorf("refused values were stored: %v", got.Attributes)
		}

		// Groups disagreeing on a single-valued attribute leave it out;
		// settling it grows the claims: by the primary group, by leaving
		// the other group, or by deleting it.
		motto := func(p string) map[string]any { return map[string]any{"motto": value(p, 250)} }
		p1, p2 := e.group("prod", "P1", motto("one")), e.group("prod", "P2", motto("two"))
		fill := e.group("prod", "Fill", nil)
		um := e.user("prod", "m@example.com", []string{fill.ID, p1.ID, p2.ID}, fill.ID)
		if _, ok := um.EffectiveAttributes["motto"]; ok {
			t.Fatal("disagreeing groups gave a motto")
		}
		// Fill the subject up to just under the bound (the motto needs
		// more than 250 bytes).
		names := []string{"Fill", "P1", "P2"}
		fillTags := values("f", 31, 250)
		left := realm.MaxClaimsBytes - 100 - tokenClaimsBytes(t, names, map[string]any{"tags": append(slices.Clone(fillTags), "")})
		if left < 1 || left > 256 {
			t.Fatalf("padding %d out of range", left)
		}
		fillTags = append(fillTags, value("g", left))
		if _, err := e.svc.UpdateGroup(e.admin, "prod", fill.ID, realm.GroupPatch{Attributes: map[string]any{"tags": fillTags}}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.UpdateUser(e.admin, "prod", um.ID, realm.UserPatch{PrimaryGroup: ptr(p1.ID)})
		wantInvalid(t, err, "primary_group")
		_, err = e.svc.RemoveUserFromGroup(e.admin, "prod", um.ID, p2.ID)
		wantConflict(t, err, "groups")
		err = e.svc.DeleteGroup(e.admin, "prod", p2.ID)
		wantConflict(t, err, "id")
		got, err := e.svc.GetUser(e.admin, "prod", um.ID)
		if err != nil || len(got.Groups) != 3 || got.PrimaryGroup != fill.ID {
			t.Fatalf("refused changes changed the user: %+v, %v", got, err)
		}
		if _, err := e.svc.GetGroup(e.admin, "prod", p2.ID); err != nil {
			t.Fatalf("the refused delete removed the group: %v", err)
		}
		// With the filler's values gone, all of it is fine.
		if _, err := e.svc.UpdateGroup(e.admin, "prod", fill.ID, realm.GroupPatch{Attributes: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RemoveUserFromGroup(e.admin, "prod", um.ID, p2.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteGroup(e.admin, "prod", p2.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClaimsBoundConcurrentChanges: two changes at once, each fine on its
// own but too much together for a member of both groups (values for A and
// for B), never both pass: one is a conflict, and the member's claims stay
// within the bound. On PostgreSQL each would otherwise check against the
// other's old state (READ COMMITTED); the realm's membership lock orders
// them.
func TestClaimsBoundConcurrentChanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		e.realm("prod")
		e.attr("prod", "tags", "string", true)
		a, b := e.group("prod", "A", nil), e.group("prod", "B", nil)
		u := e.user("prod", "both@example.com", []string{a.ID, b.ID}, a.ID)
		for round := range 10 {
			for _, g := range []*realm.Group{a, b} {
				if _, err := e.svc.UpdateGroup(e.admin, "prod", g.ID, realm.GroupPatch{Attributes: map[string]any{}}); err != nil {
					t.Fatal(err)
				}
			}
			errs := make(chan error, 2)
			start := make(chan struct{})
			for _, g := range []*realm.Group{a, b} {
				go func() {
					<-start
					_, err := e.svc.UpdateGroup(e.admin, "prod", g.ID, realm.GroupPatch{Attributes: map[string]any{
						"tags": values(g.Name, 20, 250)}})
					errs <- err
				}()
			}
			close(start)
			var ok, conflicts int
			for range 2 {
				switch err := <-errs; {
				case err == nil:
					ok++
				case errors.Is(err, realm.ErrConflict):
					conflicts++
				default:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			got, err := e.svc.GetUser(e.admin, "prod", u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := tokenClaimsBytes(t, []string{"A", "B"}, got.EffectiveAttributes); ok != 1 || conflicts != 1 || n > realm.MaxClaimsBytes {
				t.Fatalf("round %d: %d changes passed, %d conflicts; the member has %d bytes of claims (limit %d)",
					round, ok, conflicts, n, realm.MaxClaimsBytes)
			}
		}
	})
}
