package realm_test

import (
	"slices"
	"testing"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestConsoleClientRedirect: ward-console is created with the redirect URI
// {public_url}/console/callback and the public origin, and a later start
// with another public URL moves both.
func TestConsoleClientRedirect(t *testing.T) {
	e := newService(t, sqltest.Open)
	if err := e.svc.EnsureSystem(e.sys); err != nil {
		t.Fatal(err)
	}
	check := func(redirect, origin string) {
		t.Helper()
		r, err := e.store.GetRealmByName(e.sys, realm.ConsoleRealm)
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.store.GetClient(e.sys, r.ID, realm.ConsoleClientID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.RedirectURIs, []string{redirect}) || !slices.Equal(c.WebOrigins, []string{origin}) {
			t.Errorf("ward-console redirect_uris %v web_origins %v, want [%s] [%s]", c.RedirectURIs, c.WebOrigins, redirect, origin)
		}
	}
	check("https://iam.example.test/console/callback", "https://iam.example.test")

	moved, err := realm.NewService(realm.ServiceConfig{Store: e.store, Keys: testKeys{}, PublicURL: "https://sso.example.test:8443/ward"})
	if err != nil {
		t.Fatal(err)
	}
	if err := moved.EnsureSystem(e.sys); err != nil {
		t.Fatal(err)
	}
	check("https://sso.example.test:8443/ward/console/callback", "https://sso.example.test:8443")
}
