package oauth_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestTokenAtClaimsBound: a service account whose groups and effective
// attributes are exactly at realm.MaxClaimsBytes (the most the admin API
// lets a subject carry) gets an access token that carries them byte for
// byte, that Ward's own introspection answers active for, and that stays
// under 16 KiB, so HTTP header limits of common servers and proxies pass
// it. On SQLite and PostgreSQL.
func TestTokenAtClaimsBound(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) { testTokenAtClaimsBound(t, oauthtest.NewOn(t, open)) })
	}
}

func testTokenAtClaimsBound(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "bound", true)
	env.NewAttribute(rf.ID, "tags", attributes.String, true)
	ctx := env.System()

	// 32 values of 250 characters, and one more to reach the bound exactly.
	tags := make([]any, 32, 33)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%03d", i) + strings.Repeat("x", 246)
	}
	size := func(tags []any) int {
		b, err := json.Marshal(map[string]any{"groups": []string{"Big"}, "attributes": map[string]any{"tags": tags}})
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	pad := realm.MaxClaimsBytes - size(append(tags, ""))
	tags = append(tags, "p"+strings.Repeat("y", pad-1))
	if size(tags) != realm.MaxClaimsBytes {
		t.Fatalf("fixture is %d bytes, want %d", size(tags), realm.MaxClaimsBytes)
	}
	g, err := env.Service.CreateGroup(ctx, rf.Name, realm.GroupInput{Name: "Big", Attributes: map[string]any{"tags": tags}})
	if err != nil {
		t.Fatal(err)
	}
	c, secret, err := env.Service.CreateClient(ctx, rf.Name, realm.ClientInput{Name: "Big robot", Kind: "service_account",
		ClientID: "big-robot", Groups: []string{g.ID}, PrimaryGroup: g.ID, Audience: []string{"https://assets.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	checker, checkerSecret := env.NewClient(rf.ID, "checker", nil)

	tok := env.MustToken(rf.Name, c.ClientID, secret, nil)
	t.Logf("access token at the claims bound: %d bytes", len(tok))
	if len(tok) >= 16<<10 {
		t.Errorf("token of %d bytes, want under 16 KiB", len(tok))
	}
	payload := oauthtest.JWTPayload(t, tok)
	if n := size(payload["attributes"].(map[string]any)["tags"].([]any)); n != realm.MaxClaimsBytes || oauthtest.AnyStrings(payload["groups"])[0] != "Big" {
		t.Errorf("token carries %d bytes of claims (groups %v), want %d", n, payload["groups"], realm.MaxClaimsBytes)
	}
	r := env.Introspect(rf.Name, tok, checker.ClientID, checkerSecret)
	if r.Status != http.StatusOK || r.Body["active"] != true {
		t.Fatalf("introspection of the token at the bound: %d %.200s", r.Status, r.RawBody)
	}
}
