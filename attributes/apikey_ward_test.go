package attributes_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestGuardAPIKeyAgainstWard runs a Guard against a real Ward realm: it
// exchanges a key there, decides by the key's permissions, and once the key
// is deactivated, Ward refuses it at once and the running Guard within the
// minute its cached token lives (CONTRACT §6). The two share the test's
// clock, so the minute passes without waiting.
func TestGuardAPIKeyAgainstWard(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) { testGuardAPIKeyAgainstWard(t, oauthtest.NewOn(t, open)) })
	}
}

func testGuardAPIKeyAgainstWard(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "media", true)
	svc, secret := env.NewClient(rf.ID, "assets-server", func(c *realm.Client) { c.Audience = []string{"assets"} })
	ctx := env.System()
	for _, p := range []string{"asset:read", "asset:write", "asset:delete"} {
		if _, err := env.Service.CreatePermission(ctx, rf.Name, realm.PermissionInput{Name: p, Description: p}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := env.Service.CreateAPIKey(ctx, rf.Name, realm.APIKeyInput{Description: "uploader", Permissions: []string{"asset:read", "asset:write"}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := attributes.NewGuard(context.Background(), attributes.Config{
		Issuer: rf.Issuer, Audience: "assets",
		Client: attributes.ClientCredentials{ID: svc.ClientID, Secret: secret},
		Clock:  env.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	claims, err := g.VerifyAPIKey(context.Background(), key.Key)
	if err != nil {
		t.Fatalf("VerifyAPIKey: %v", err)
	}
	if claims["sub"] != key.ID || !attributes.IsAPIKey(claims) {
		t.Fatalf("claims %v: want an API key's with sub %s", claims, key.ID)
	}
	if got := oauthtest.AnyStrings(claims["permissions"]); !slices.Equal(got, []string{"asset:read", "asset:write"}) {
		t.Fatalf("permissions %v", got)
	}
	if !attributes.KeyAllows(claims, "asset", "write") || attributes.KeyAllows(claims, "asset", "delete") {
		t.Fatal("KeyAllows: want asset:write allowed and asset:delete not")
	}

	if _, err := env.Service.UpdateAPIKey(ctx, rf.Name, key.ID, realm.APIKeyPatch{Active: new(false)}); err != nil {
		t.Fatal(err)
	}
	// Ward refuses the key at once.
	r := env.Post("/realms/"+rf.Name+oauth.PathToken, url.Values{
		"grant_type":         {oauth.GrantTypeTokenExchange},
		"subject_token":      {key.Key},
		"subject_token_type": {oauth.TokenTypeAPIKey},
	}, svc.ClientID, secret)
	oauthtest.WantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if r.Body["error_description"] != realm.APIKeyDeactivated {
		t.Fatalf("error_description %q, want %q", r.Body["error_description"], realm.APIKeyDeactivated)
	}
	// The Guard decides offline from its cached token meanwhile...
	if _, err := g.VerifyAPIKey(context.Background(), key.Key); err != nil {
		t.Fatalf("within the cached token's life: %v", err)
	}
	// ...and refuses the key once that token's minute is over.
	env.Advance(61 * time.Second)
	_, err = g.VerifyAPIKey(context.Background(), key.Key)
	var refused *attributes.KeyRefusedError
	if !errors.As(err, &refused) || refused.Reason != realm.APIKeyDeactivated {
		t.Fatalf("61 s after deactivation: %v, want a KeyRefusedError saying %q", err, realm.APIKeyDeactivated)
	}
	if !errors.Is(err, attributes.ErrInvalidToken) {
		t.Fatalf("a refused key should be an invalid credential: %v", err)
	}
}
