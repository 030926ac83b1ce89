package oauth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
)

// policiesCall GETs the realm's policies with token as a Bearer header and
// the If-None-Match header when etag is set.
func (env *testEnv) policiesCall(realmName, token, etag string) *tokenResponse {
	env.t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.base+"/realms/"+realmName+pathPolicies, nil)
	if err != nil {
		env.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	return env.do(req)
}

func (env *testEnv) newPolicy(realmID, name, condition string) *realm.Policy {
	env.t.Helper()
	now := env.now().UTC()
	p := &realm.Policy{ID: env.id(), RealmID: realmID, Name: name, ResourceType: "asset", Actions: []string{"read"},
		Condition: condition, CreatedAt: now, UpdatedAt: now}
	if err := env.store.CreatePolicy(env.ctx, p); err != nil {
		env.t.Fatal(err)
	}
	return p
}

func wantInvalidToken(t *testing.T, r *tokenResponse) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("status %d, WWW-Authenticate %q, want 401 invalid_token: %s", r.Status, r.Header.Get("WWW-Authenticate"), r.RawBody)
	}
}

// TestPolicyDistribution: an active client's token reads the realm's
// compiling policies with a strong ETag; the same ETag answers 304 until a
// policy changes.
func TestPolicyDistribution(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "assets", true)
	env.newAttribute(rf.ID, "admin", attributes.Boolean, false)
	env.newPolicy(rf.ID, "b-admins", "subject.attributes.admin")
	env.newPolicy(rf.ID, "a-owners", "resource.owner == subject.sub")
	// Stored when "gone" was defined; it no longer compiles and is not served.
	env.newPolicy(rf.ID, "c-stale", "subject.attributes.gone")
	c, secret := env.newClient(rf.ID, "assets-server", nil)
	tok := env.mustToken(rf.Name, c.ClientID, secret, nil)

	r := env.policiesCall(rf.Name, tok, "")
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.RawBody)
	}
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 20 {
		t.Fatalf("ETag %q is not a strong validator", etag)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q", cc)
	}
	want := `{"policies":[` +
		`{"name":"a-owners","description":"","resource_type":"asset","actions":["read"],"condition":"resource.owner == subject.sub"},` +
		`{"name":"b-admins","description":"","resource_type":"asset","actions":["read"],"condition":"subject.attributes.admin"}]}`
	if r.RawBody != want {
		t.Fatalf("body\n got  %s\n want %s", r.RawBody, want)
	}

	same := env.policiesCall(rf.Name, tok, etag)
	if same.Status != http.StatusNotModified || same.RawBody != "" || same.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match with the current ETag: %d %q ETag %q", same.Status, same.RawBody, same.Header.Get("ETag"))
	}
	if r := env.policiesCall(rf.Name, tok, `"other", W/`+etag); r.Status != http.StatusNotModified {
		t.Errorf("ETag in a list, weak form: %d", r.Status)
	}
	if r := env.policiesCall(rf.Name, tok, `"stale"`); r.Status != http.StatusOK {
		t.Errorf("another ETag: %d", r.Status)
	}

	// A change gives a new body and a new ETag.
	env.newPolicy(rf.ID, "d-new", "true")
	changed := env.policiesCall(rf.Name, tok, etag)
	if changed.Status != http.StatusOK || changed.Header.Get("ETag") == etag || !strings.Contains(changed.RawBody, `"d-new"`) {
		t.Fatalf("after a change: %d ETag %q: %s", changed.Status, changed.Header.Get("ETag"), changed.RawBody)
	}
}

// TestPolicyDistributionRefusals: no token, a bad or tampered token, another
// realm's token, a disabled client's token and a user's token are refused.
func TestPolicyDistributionRefusals(t *testing.T) {
	env := newEnv(t)
	org := env.newOrg("o")
	rf := env.newRealm(org.ID, "assets", true)
	other := env.newRealm(org.ID, "elsewhere", true)
	env.newPolicy(rf.ID, "all", "true")
	c, secret := env.newClient(rf.ID, "svc", nil)
	oc, osecret := env.newClient(other.ID, "svc", nil)
	tok := env.mustToken(rf.Name, c.ClientID, secret, nil)

	r := env.policiesCall(rf.Name, "", "")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	wantInvalidToken(t, env.policiesCall(rf.Name, "not-a-token", ""))
	wantInvalidToken(t, env.policiesCall(rf.Name, tok[:len(tok)-4]+"AAAA", ""))
	// Another realm's token (same client_id) is not this realm's.
	wantInvalidToken(t, env.policiesCall(rf.Name, env.mustToken(other.Name, oc.ClientID, osecret, nil), ""))
	// Expired.
	env.advance(2 * time.Hour)
	wantInvalidToken(t, env.policiesCall(rf.Name, tok, ""))
	env.advance(-2 * time.Hour)

	// A disabled client's token stops working at once.
	if r := env.policiesCall(rf.Name, tok, ""); r.Status != http.StatusOK {
		t.Fatalf("before disabling: %d %s", r.Status, r.RawBody)
	}
	c.Active = false
	if err := env.store.UpdateClient(env.ctx, c); err != nil {
		t.Fatal(err)
	}
	wantInvalidToken(t, env.policiesCall(rf.Name, tok, ""))

	if r := env.policiesCall("nope", tok, ""); r.Status != http.StatusNotFound {
		t.Errorf("unknown realm: %d", r.Status)
	}
}

// TestPolicyDistributionRefusesUserTokens: a user's token is valid but not
// for this: 403 insufficient_scope.
func TestPolicyDistributionRefusesUserTokens(t *testing.T) {
	f := newLoginFixture(t, openStore)
	tok := f.signIn(t, browser(t), "openid")
	r := f.env.policiesCall(f.realm.Name, tok.AccessToken, "")
	if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("user token: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.RawBody)
	}
}
