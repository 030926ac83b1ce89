package oauth_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/oauth/oauthtest"
)

func wantInvalidToken(t *testing.T, r *oauthtest.Response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("status %d, WWW-Authenticate %q, want 401 invalid_token: %s", r.Status, r.Header.Get("WWW-Authenticate"), r.RawBody)
	}
}

// TestPolicyDistribution: an active client's token reads the realm's
// compiling policies with a strong ETag; the same ETag answers 304 until a
// policy changes.
func TestPolicyDistribution(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "assets", true)
	env.NewAttribute(rf.ID, "admin", attributes.Boolean, false)
	newPolicy(env, rf.ID, "b-admins", "subject.attributes.admin")
	newPolicy(env, rf.ID, "a-owners", "resource.owner == subject.sub")
	// Stored when "gone" was defined; it no longer compiles and is not served.
	newPolicy(env, rf.ID, "c-stale", "subject.attributes.gone")
	c, secret := env.NewClient(rf.ID, "assets-server", nil)
	tok := env.MustToken(rf.Name, c.ClientID, secret, nil)

	r := policiesCall(env, rf.Name, tok, "")
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
		`{"name":"b-admins","description":"","resource_type":"asset","actions":["read"],"condition":"subject.attributes.admin"}],` +
		`"deactivated_api_keys":[],"ip_allow_lists":{"realm":[],"groups":{}}}`
	if r.RawBody != want {
		t.Fatalf("body\n got  %s\n want %s", r.RawBody, want)
	}

	same := policiesCall(env, rf.Name, tok, etag)
	if same.Status != http.StatusNotModified || same.RawBody != "" || same.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match with the current ETag: %d %q ETag %q", same.Status, same.RawBody, same.Header.Get("ETag"))
	}
	if r := policiesCall(env, rf.Name, tok, `"other", W/`+etag); r.Status != http.StatusNotModified {
		t.Errorf("ETag in a list, weak form: %d", r.Status)
	}
	if r := policiesCall(env, rf.Name, tok, `"stale"`); r.Status != http.StatusOK {
		t.Errorf("another ETag: %d", r.Status)
	}

	// A change gives a new body and a new ETag.
	newPolicy(env, rf.ID, "d-new", "true")
	changed := policiesCall(env, rf.Name, tok, etag)
	if changed.Status != http.StatusOK || changed.Header.Get("ETag") == etag || !strings.Contains(changed.RawBody, `"d-new"`) {
		t.Fatalf("after a change: %d ETag %q: %s", changed.Status, changed.Header.Get("ETag"), changed.RawBody)
	}
}

// TestPolicyDistributionRefusals: no token, a bad or tampered token, another
// realm's token, a disabled client's token and a user's token are refused.
func TestPolicyDistributionRefusals(t *testing.T) {
	env := oauthtest.New(t)
	org := env.NewOrg("o")
	rf := env.NewRealm(org.ID, "assets", true)
	other := env.NewRealm(org.ID, "elsewhere", true)
	newPolicy(env, rf.ID, "all", "true")
	c, secret := env.NewClient(rf.ID, "svc", nil)
	oc, osecret := env.NewClient(other.ID, "svc", nil)
	tok := env.MustToken(rf.Name, c.ClientID, secret, nil)

	r := policiesCall(env, rf.Name, "", "")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	wantInvalidToken(t, policiesCall(env, rf.Name, "not-a-token", ""))
	wantInvalidToken(t, policiesCall(env, rf.Name, tok[:len(tok)-4]+"AAAA", ""))
	// Another realm's token (same client_id) is not this realm's.
	wantInvalidToken(t, policiesCall(env, rf.Name, env.MustToken(other.Name, oc.ClientID, osecret, nil), ""))
	// Expired.
	env.Advance(2 * time.Hour)
	wantInvalidToken(t, policiesCall(env, rf.Name, tok, ""))
	env.Advance(-2 * time.Hour)

	// A disabled client's token stops working at once.
	if r := policiesCall(env, rf.Name, tok, ""); r.Status != http.StatusOK {
		t.Fatalf("before disabling: %d %s", r.Status, r.RawBody)
	}
	c.Active = false
	if err := env.Store.UpdateClient(env.Ctx, c); err != nil {
		t.Fatal(err)
	}
	wantInvalidToken(t, policiesCall(env, rf.Name, tok, ""))

	if r := policiesCall(env, "nope", tok, ""); r.Status != http.StatusNotFound {
		t.Errorf("unknown realm: %d", r.Status)
	}
}

// TestPolicyDistributionRefusesUserTokens: a user's token is valid but not
// for this: 403 insufficient_scope.
func TestPolicyDistributionRefusesUserTokens(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	tok := f.SignIn(t, oauthtest.Browser(t), "openid")
	r := policiesCall(f.Env, f.Realm.Name, tok.AccessToken, "")
	if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("user token: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.RawBody)
	}
}
