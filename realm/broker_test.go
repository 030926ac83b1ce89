package realm_test

import (
	"errors"
	stdmaps "maps"
	"slices"
	"testing"

	"github.com/wardiam/ward/oauth/broker"
	"github.com/wardiam/ward/realm"
)

// idpEnv is a realm "corp" with provider "sso" (saved disabled: SignIn does
// not look at the switch, the broker does, so no document is read) and the
// identity provider service over the test's store.
type idpEnv struct {
	*env
	idps *realm.IdentityProviders
	r    *realm.Realm
	p    *realm.IdentityProvider
}

func newIdPEnv(t *testing.T, open opener, in realm.IdentityProviderInput) *idpEnv {
	t.Helper()
	e := &idpEnv{env: newEnv(t, open)}
	var err error
	if e.idps, err = realm.NewIdentityProviders(realm.IdentityProvidersConfig{Service: e.svc,
		SecretKey: []byte("abcdef0123456789abcdef0123456789"), Checker: broker.NewChecker(nil)}); err != nil {
		t.Fatal(err)
	}
	e.r = e.realm("corp")
	off := false
	in.Alias, in.Kind, in.Enabled = "sso", "oidc", &off
	in.OIDC = &realm.OIDCInput{Issuer: "https://idp.example.test", ClientID: "ward"}
	if _, err := e.idps.CreateIdentityProvider(e.admin, "corp", in); err != nil {
		t.Fatal(err)
	}
	if e.p, err = e.store.GetIdentityProvider(t.Context(), e.r.ID, "sso"); err != nil {
		t.Fatal(err)
	}
	return e
}

// signIn applies an answer; refusal is the reason of a *BrokerRefusal, or
// "" on success.
func (e *idpEnv) signIn(ext realm.ExternalIdentity) (*realm.BrokerResult, string) {
	e.t.Helper()
	res, err := e.idps.SignIn(e.t.Context(), e.r, e.p, ext)
	var refusal *realm.BrokerRefusal
	if errors.As(err, &refusal) {
		return nil, refusal.Reason
	}
	if err != nil {
		e.t.Fatalf("SignIn: %v", err)
	}
	return res, ""
}

// TestBrokerSignInRefusals: every way SignIn refuses a person, each with
// its reason and nothing written but the refusal's event; on SQLite and
// PostgreSQL.
func TestBrokerSignInRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newIdPEnv(t, open, realm.IdentityProviderInput{})
		existing := e.user("corp", "ann@corp.test", nil, "")
		for _, c := range []struct {
			name   string
			ext    realm.ExternalIdentity
			reason string
		}{
			{"no subject", realm.ExternalIdentity{Email: "x@corp.test"}, "bad_subject"},
			{"a subject with a NUL", realm.ExternalIdentity{Subject: "a\x00b", Email: "x@corp.test"}, "bad_subject"},
			{"no email for a new user", realm.ExternalIdentity{Subject: "s1"}, "no_email"},
			{"an email that is not one", realm.ExternalIdentity{Subject: "s1", Email: "not an email"}, "no_email"},
			{"an existing email, linking off", realm.ExternalIdentity{Subject: "s2", Email: existing.Email, EmailVerified: true}, "email_taken"},
			{"a new user's email not verified", realm.ExternalIdentity{Subject: "s5", Email: "new@corp.test"}, "email_unverified"},
		} {
			before := e.rows()
			if _, reason := e.signIn(c.ext); reason != c.reason {
				t.Errorf("%s: reason %q, want %q", c.name, reason, c.reason)
			}
			after := e.rows()
			after["corp.events"]-- // the refusal's own
			if !stdmaps.Equal(before, after) {
				t.Errorf("%s: rows %v, want %v (only the refusal event)", c.name, after, before)
			}
		}

		// Linking needs the email verified; a user already linked to another
		// subject is not linked again.
		link := true
		if _, err := e.idps.UpdateIdentityProvider(e.admin, "corp", "sso", realm.IdentityProviderPatch{LinkByEmail: &link}); err != nil {
			t.Fatal(err)
		}
		e.p, _ = e.store.GetIdentityProvider(t.Context(), e.r.ID, "sso")
		if _, reason := e.signIn(realm.ExternalIdentity{Subject: "s2", Email: existing.Email}); reason != "email_unverified" {
			t.Errorf("an unverified email: %q, want email_unverified", reason)
		}
		if res, reason := e.signIn(realm.ExternalIdentity{Subject: "s2", Email: existing.Email, EmailVerified: true}); reason != "" || !res.Linked || res.User.ID != existing.ID {
			t.Fatalf("a verified email: %+v %q, want Ann linked", res, reason)
		}
		if _, reason := e.signIn(realm.ExternalIdentity{Subject: "s3", Email: existing.Email, EmailVerified: true}); reason != "already_linked" {
			t.Errorf("a second subject for a linked user: %q, want already_linked", reason)
		}
		// Without JIT, an unknown person.
		jit := false
		if _, err := e.idps.UpdateIdentityProvider(e.admin, "corp", "sso", realm.IdentityProviderPatch{JIT: &jit}); err != nil {
			t.Fatal(err)
		}
		e.p, _ = e.store.GetIdentityProvider(t.Context(), e.r.ID, "sso")
		if _, reason := e.signIn(realm.ExternalIdentity{Subject: "s4", Email: "new@corp.test", EmailVerified: true}); reason != "no_account" {
			t.Errorf("unknown without JIT: %q, want no_account", reason)
		}
		// A deactivated linked user.
		off := false
		if _, err := e.svc.UpdateUser(e.admin, "corp", existing.ID, realm.UserPatch{Active: &off}); err != nil {
			t.Fatal(err)
		}
		if _, reason := e.signIn(realm.ExternalIdentity{Subject: "s2"}); reason != "deactivated" {
			t.Errorf("a deactivated user: %q, want deactivated", reason)
		}
		refused, err := e.store.ListEvents(t.Context(), e.orgID, e.r.ID, realm.EventFilter{Type: realm.EventIdentityProviderSignInRefused, Limit: 50})
		if err != nil || len(refused.Items) != 10 {
			t.Errorf("%d refusal events, %v; want 10", len(refused.Items), err)
		}
	})
}

// TestBrokerSignInGroups: mapped memberships follow the answer (added and
// removed), others stay, default groups are added, the mapped group with
// the highest priority becomes primary, a tie or none keeps a primary
// still held; a JIT user has no password.
func TestBrokerSignInGroups(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		e.realm("corp")
		a, b, c, d := e.group("corp", "a", nil), e.group("corp", "b", nil), e.group("corp", "c", nil), e.group("corp", "defaults", nil)
		prio := func(g *realm.Group, n int) {
			g.IDPPrimaryPriority = n
			if err := e.store.UpdateGroup(t.Context(), g); err != nil {
				t.Fatal(err)
			}
		}
		prio(a, 10)
		prio(b, 20)
		ie := &idpEnv{env: e}
		var err error
		if ie.idps, err = realm.NewIdentityProviders(realm.IdentityProvidersConfig{Service: e.svc,
			SecretKey: []byte("abcdef0123456789abcdef0123456789"), Checker: broker.NewChecker(nil)}); err != nil {
			t.Fatal(err)
		}
		ie.r, _ = e.store.GetRealmByName(t.Context(), "corp")
		off := false
		if _, err := ie.idps.CreateIdentityProvider(e.admin, "corp", realm.IdentityProviderInput{Alias: "sso", Kind: "oidc", Enabled: &off,
			OIDC:          &realm.OIDCInput{Issuer: "https://idp.example.test", ClientID: "ward"},
			GroupMappings: []realm.GroupMapping{{External: "A", Group: a.ID}, {External: "B", Group: b.ID}},
			DefaultGroups: []string{d.ID}}); err != nil {
			t.Fatal(err)
		}
		ie.p, _ = e.store.GetIdentityProvider(t.Context(), ie.r.ID, "sso")

		res, reason := ie.signIn(realm.ExternalIdentity{Subject: "s", Email: "zoe@corp.test", EmailVerified: true, Groups: []string{"A", "B", "X"}})
		if reason != "" || !res.Created || res.User.PasswordHash != "" {
			t.Fatalf("JIT: %+v %q", res, reason)
		}
		u := res.User
		if want := idsSorted(a.ID, b.ID, d.ID); !slices.Equal(u.Groups, want) || u.PrimaryGroup != b.ID {
			t.Fatalf("groups %v primary %s, want %v primary b", u.Groups, u.PrimaryGroup, want)
		}
		// An admin adds c; the IdP drops B: b leaves, c stays, a is primary.
		if _, err := e.svc.AddUserToGroup(e.admin, "corp", u.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		res, _ = ie.signIn(realm.ExternalIdentity{Subject: "s", Groups: []string{"A"}})
		if want := idsSorted(a.ID, c.ID, d.ID); !slices.Equal(res.User.Groups, want) || res.User.PrimaryGroup != a.ID {
			t.Fatalf("second sign-in: groups %v primary %s, want %v primary a", res.User.Groups, res.User.PrimaryGroup, want)
		}
		// None mapped: the primary (a) is left, so no primary remains.
		res, _ = ie.signIn(realm.ExternalIdentity{Subject: "s"})
		if want := idsSorted(c.ID, d.ID); !slices.Equal(res.User.Groups, want) || res.User.PrimaryGroup != "" {
			t.Fatalf("third sign-in: groups %v primary %q, want %v and none", res.User.Groups, res.User.PrimaryGroup, want)
		}
	})
}

func idsSorted(ids ...string) []string { slices.Sort(ids); return ids }
