package realm_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

func TestClientInput(t *testing.T) { eachBackend(t, testClientInput) }

func testClientInput(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	before := e.rows()
	cases := []struct {
		name   string
		in     realm.ClientInput
		fields []string
	}{
		{"no name, bad kind", realm.ClientInput{Kind: "robot"}, []string{"name", "kind"}},
		{"public service account", realm.ClientInput{Name: "s", Kind: "service_account", Public: true,
			RedirectURIs: []string{"https://app.example.com/cb"}}, []string{"public", "redirect_uris"}},
		{"bad client_id", realm.ClientInput{ClientID: "a b", Name: "s", Kind: "service_account"}, []string{"client_id"}},
		{"short client_id", realm.ClientInput{ClientID: "ab", Name: "s", Kind: "service_account"}, []string{"client_id"}},
		{"audience", realm.ClientInput{Name: "s", Kind: "service_account", Audience: []string{"", "assets", "assets", strings.Repeat("a", 201)}},
			[]string{"audience[0]", "audience[2]", "audience[3]"}},
		{"redirect uris", realm.ClientInput{Name: "app", Kind: "application", RedirectURIs: []string{
			"https://app.example.com/cb", "http://app.example.com/cb", "https://app.example.com/cb#frag", "/cb",
			"ftp://app.example.com/cb", "https://app.example.com/cb"}},
			[]string{"redirect_uris[1]", "redirect_uris[2]", "redirect_uris[3]", "redirect_uris[4]", "redirect_uris[5]"}},
		{"web origins", realm.ClientInput{Name: "app", Kind: "application", WebOrigins: []string{
			"https://app.example.com", "https://app.example.com/", "https://app.example.com/path", "app.example.com", "https://app.example.com?x"}},
			[]string{"web_origins[1]", "web_origins[2]", "web_origins[3]", "web_origins[4]"}},
		{"communication", realm.ClientInput{Name: "app", Kind: "application", Communication: "popup"}, []string{"communication"}},
		{"unknown group", realm.ClientInput{Name: "s", Kind: "service_account", Groups: []string{"nope"}, PrimaryGroup: "nope"},
			[]string{"groups[0]", "primary_group"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, secret, err := e.svc.CreateClient(e.admin, "shop", c.in)
			wantInvalid(t, err, c.fields...)
			if secret != "" {
				t.Fatal("a refused create returned a secret")
			}
		})
	}
	e.sameRows(before)

	// Loopback http, origins with ports and post_message are fine.
	app, secret, err := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "app", Kind: "application", Public: true,
		RedirectURIs: []string{"http://localhost:3000/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb", "https://app.example.com/cb?x=1"},
		WebOrigins:   []string{"http://localhost:3000", "https://app.example.com", "http://127.0.0.1", "http://[::1]:8080"}, Communication: "post_message", DisplayName: "App"})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || !app.Public || app.Communication != realm.CommPostMessage {
		t.Fatalf("public app: secret %q, %+v", secret, app)
	}
	if !regexp.MustCompile(`^[a-z2-7]{16}$`).MatchString(app.ClientID) {
		t.Fatalf("generated client_id %q", app.ClientID)
	}
	conf, secret, err := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{ClientID: "web.app-1", Name: "web", Kind: "application"})
	if err != nil || secret == "" || conf.Communication != realm.CommRedirect || conf.ClientID != "web.app-1" {
		t.Fatalf("confidential app: %+v, secret %q, %v", conf, secret, err)
	}
	before = e.rows()
	_, _, err = e.svc.CreateClient(e.admin, "shop", realm.ClientInput{ClientID: "web.app-1", Name: "again", Kind: "service_account"})
	wantConflict(t, err, "client_id")
	// Patches follow the same rules.
	_, err = e.svc.UpdateClient(e.admin, "shop", conf.ClientID, realm.ClientPatch{RedirectURIs: &[]string{"http://evil.example.com/cb"}, Audience: &[]string{""}})
	wantInvalid(t, err, "redirect_uris[0]", "audience[0]")
	e.sameRows(before)
}

func TestClientSecretShownOnce(t *testing.T) { eachBackend(t, testClientSecretShownOnce) }

func testClientSecretShownOnce(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	c, secret, err := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "svc", Kind: "service_account", Audience: []string{"assets"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 43 {
		t.Fatalf("secret %q shorter than 256 bits", secret)
	}
	secrets := []string{secret}
	noSecretIn := func(what string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			h := sha256.Sum256([]byte(s))
			for _, needle := range []string{s, hex.EncodeToString(h[:]), base64.StdEncoding.EncodeToString(h[:])} {
				if strings.Contains(string(b), needle) {
					t.Fatalf("%s contains a secret or its hash: %s", what, b)
				}
			}
		}
	}
	noSecretIn("created client", c)
	if c.SecretHash != nil || c.PreviousSecretHash != nil {
		t.Fatal("created client view carries the secret hash")
	}
	got, err := e.svc.GetClient(e.viewer, "shop", c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	noSecretIn("fetched client", got)
	list, _ := e.svc.ListClients(e.viewer, "shop", realm.ListOptions{})
	noSecretIn("client list", list)

	// Only the hash is stored, and it checks.
	stored, err := e.store.GetClient(t.Context(), c.RealmID, c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.CheckSecret(secret, e.now) || stored.CheckSecret("wrong", e.now) {
		t.Fatal("stored hash does not check the secret")
	}

	// Rotation with grace: the old secret works until now+grace.
	_, err = rotateErr(e, c.ClientID, 86401)
	wantInvalid(t, err, "grace_seconds")
	_, err = rotateErr(e, c.ClientID, -1)
	wantInvalid(t, err, "grace_seconds")
	v, second, err := e.svc.RotateClientSecret(e.admin, "shop", c.ClientID, 60)
	if err != nil || second == "" || second == secret {
		t.Fatalf("rotate: %q, %v", second, err)
	}
	secrets = append(secrets, second)
	noSecretIn("rotated client", v)
	stored, _ = e.store.GetClient(t.Context(), c.RealmID, c.ClientID)
	if !stored.CheckSecret(second, e.now) || !stored.CheckSecret(secret, e.now.Add(59*time.Second)) {
		t.Fatal("new secret or old secret within grace refused")
	}
	if stored.CheckSecret(secret, e.now.Add(61*time.Second)) {
		t.Fatal("old secret accepted after the grace")
	}
	// Grace 0: the old secret dies at once.
	e.now = e.now.Add(10 * time.Second)
	_, third, err := e.svc.RotateClientSecret(e.admin, "shop", c.ClientID, 0)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, third)
	stored, _ = e.store.GetClient(t.Context(), c.RealmID, c.ClientID)
	if stored.CheckSecret(second, e.now) || stored.CheckSecret(secret, e.now) || !stored.CheckSecret(third, e.now) {
		t.Fatal("grace 0 kept an old secret alive")
	}
	// Public clients have nothing to rotate.
	pub, _, _ := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "spa", Kind: "application", Public: true})
	_, err = rotateErr(e, pub.ClientID, 0)
	wantConflict(t, err, "public")

	// Events record create and rotations, never a secret.
	ev, err := e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	rotations := 0
	for _, x := range ev.Items {
		if x.Type == "client.secret_rotated" && x.TargetID == c.ClientID {
			rotations++
		}
	}
	if rotations != 2 {
		t.Fatalf("%d client.secret_rotated events, want 2", rotations)
	}
	noSecretIn("realm events", ev)
	org, _ := e.svc.ListEvents(e.owner, "", realm.EventFilter{Limit: 200})
	secrets = append(secrets, e.boot.ClientSecret)
	noSecretIn("org events", org)

	// Deactivation is recorded.
	d, err := e.svc.UpdateClient(e.admin, "shop", c.ClientID, realm.ClientPatch{Active: ptr(false)})
	if err != nil || d.Active {
		t.Fatalf("deactivate client: %+v, %v", d, err)
	}
	if !eventTypes(t, e, "shop")["client.deactivated"] {
		t.Fatal("no client.deactivated event")
	}
}

func rotateErr(e *env, clientID string, grace int) (string, error) {
	_, s, err := e.svc.RotateClientSecret(e.admin, "shop", clientID, grace)
	return s, err
}

func TestOrgClients(t *testing.T) { eachBackend(t, testOrgClients) }

func testOrgClients(t *testing.T, open opener) {
	e := newEnv(t, open)
	boot := e.boot
	if boot.ClientSecret == "" || boot.Client.OrgRole != realm.RoleOwner || boot.Client.Name != "bootstrap" || boot.Client.SecretHash != nil {
		t.Fatalf("bootstrap client %+v", boot.Client)
	}
	before := e.rows()
	_, _, err := e.svc.CreateOrgClient(e.owner, realm.OrgClientInput{Role: "root"})
	wantInvalid(t, err, "name", "role")
	e.sameRows(before)

	c, secret, err := e.svc.CreateOrgClient(e.owner, realm.OrgClientInput{Name: "ci", Role: realm.RoleAdmin})
	if err != nil || secret == "" || c.OrgID != e.orgID || c.Kind != realm.KindServiceAccount {
		t.Fatalf("create org client: %+v, %v", c, err)
	}
	console, _ := e.store.GetRealmByName(t.Context(), realm.ConsoleRealm)
	stored, err := e.store.GetClient(t.Context(), console.ID, c.ClientID)
	if err != nil || !stored.CheckSecret(secret, e.now) || stored.OrgRole != realm.RoleAdmin {
		t.Fatalf("stored org client %+v, %v", stored, err)
	}
	list, err := e.svc.ListOrgClients(e.owner, realm.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("org clients %+v, %v", list.Items, err)
	}
	for _, x := range list.Items {
		if x.ClientID == realm.ConsoleClientID || x.SecretHash != nil {
			t.Fatalf("listed %+v", x)
		}
	}
	u, err := e.svc.UpdateOrgClient(e.owner, c.ClientID, realm.OrgClientPatch{Role: ptr(realm.RoleViewer), Active: ptr(false)})
	if err != nil || u.OrgRole != realm.RoleViewer || u.Active {
		t.Fatalf("update org client %+v, %v", u, err)
	}
	_, newSecret, err := e.svc.RotateOrgClientSecret(e.owner, c.ClientID, 30)
	if err != nil || newSecret == "" {
		t.Fatal(err)
	}
	// The console's own public client is not an org client.
	_, err = e.svc.GetOrgClient(e.owner, realm.ConsoleClientID)
	wantIs(t, err, realm.ErrNotFound)
	other := e.secondOrg("globex")
	otherList, _ := e.svc.ListOrgClients(other, realm.ListOptions{})
	if len(otherList.Items) != 1 {
		t.Fatalf("globex sees %d org clients, want its own 1", len(otherList.Items))
	}
	_, err = e.svc.UpdateOrgClient(other, c.ClientID, realm.OrgClientPatch{Active: ptr(true)})
	wantIs(t, err, realm.ErrNotFound)
}

func TestBootstrap(t *testing.T) { eachBackend(t, testBootstrap) }

func testBootstrap(t *testing.T, open opener) {
	e := newService(t, open)
	token, err := e.svc.NewSetupToken(e.sys)
	if err != nil || len(token) < 43 {
		t.Fatalf("setup token on an empty database: %q, %v", token, err)
	}
	h := sha256.Sum256([]byte(token))
	if err := e.store.UseSetupToken(t.Context(), h[:], e.now.Add(59*time.Minute)); err != nil {
		t.Fatalf("setup token not stored as its SHA-256: %v", err)
	}
	member := realm.WithPrincipal(t.Context(), realm.Principal{OrgID: "x", Role: realm.RoleOwner, ActorType: "member", ActorID: "u"})
	_, err = e.svc.Bootstrap(member, realm.BootstrapInput{OrgSlug: "acme", OwnerEmail: "o@acme.test"})
	wantIs(t, err, realm.ErrForbidden)
	_, err = e.svc.Bootstrap(e.sys, realm.BootstrapInput{OrgSlug: "Acme!", OwnerEmail: "nope"})
	wantInvalid(t, err, "org", "owner_email")
	if n, _ := e.store.CountOrgs(t.Context()); n != 0 {
		t.Fatalf("%d orgs after refused bootstraps", n)
	}

	res, err := e.svc.Bootstrap(e.sys, realm.BootstrapInput{OrgSlug: "acme", OwnerEmail: "o@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Org.Name != "acme" || res.Owner.Role != realm.RoleOwner || res.Owner.User.FirstName != "Owner" || res.Owner.User.LastName != "acme" {
		t.Fatalf("bootstrap result %+v / %+v", res.Org, res.Owner.User)
	}
	if tok, err := e.svc.NewSetupToken(e.sys); err != nil || tok != "" {
		t.Fatalf("setup token once an org exists: %q, %v", tok, err)
	}
	e.orgID = res.Org.ID
	e.boot = res
	e.owner = e.as(realm.RoleOwner, res.Owner.UserID)
	before := e.rows()
	_, err = e.svc.Bootstrap(e.sys, realm.BootstrapInput{OrgSlug: "acme", OwnerEmail: "other@acme.test"})
	wantConflict(t, err, "org")
	e.sameRows(before)
	// A second org for the same person reuses the console account.
	res2, err := e.svc.Bootstrap(e.sys, realm.BootstrapInput{OrgSlug: "globex", OwnerEmail: "O@ACME.test"})
	if err != nil || res2.Owner.UserID != res.Owner.UserID {
		t.Fatalf("second bootstrap: %+v, %v", res2, err)
	}
	// EnsureSystem is idempotent and the console realm has its key and client.
	if err := e.svc.EnsureSystem(e.sys); err != nil {
		t.Fatal(err)
	}
	console, _ := e.store.GetRealmByName(t.Context(), realm.ConsoleRealm)
	keys, _ := e.store.ListSigningKeys(t.Context(), console.ID)
	wc, err := e.store.GetClient(t.Context(), console.ID, realm.ConsoleClientID)
	if len(keys) != 1 || err != nil || !wc.Public || wc.Kind != realm.KindApplication || console.OrgID != "" {
		t.Fatalf("console realm: keys %d, client %+v, %v", len(keys), wc, err)
	}
	types := eventTypes(t, e, "")
	for _, want := range []string{"org.created", "member.created", "client.created"} {
		if !types[want] {
			t.Errorf("bootstrap left no %s event", want)
		}
	}
}

func TestSetPasswordLink(t *testing.T) { eachBackend(t, testSetPasswordLink) }

func testSetPasswordLink(t *testing.T, open opener) {
	e := newEnv(t, open)
	r := e.realm("shop")
	u := e.user("shop", "a@example.com", nil, "")
	link, err := e.svc.SetPasswordLink(e.sys, r.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "/realms/shop/login-actions/set-password?token="
	if !strings.HasPrefix(link, prefix) {
		t.Fatalf("link %q", link)
	}
	q, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
	token := q.Get("token")
	h := sha256.Sum256([]byte(token))
	// A newer link voids this one; the store keeps only the hash.
	at, err := e.store.UseActionToken(t.Context(), h[:], e.now.Add(11*time.Hour))
	if err != nil || at.UserID != u.ID || at.Purpose != "set_password" || !at.ExpiresAt.Equal(e.now.Add(12*time.Hour)) {
		t.Fatalf("action token %+v, %v", at, err)
	}
	// Only Ward itself gets a link handed back: an org owner could
	// otherwise take over a console account shared with another org.
	console, _ := e.store.GetRealmByName(t.Context(), realm.ConsoleRealm)
	for name, p := range map[string]context.Context{"owner": e.owner, "admin": e.admin, "other org": e.secondOrg("globex")} {
		if _, err := e.svc.SetPasswordLink(p, console.ID, e.boot.Owner.UserID); !errors.Is(err, realm.ErrForbidden) {
			t.Errorf("%s asking for a console account's link: %v, want forbidden", name, err)
		}
		if _, err := e.svc.SetPasswordLink(p, r.ID, u.ID); !errors.Is(err, realm.ErrForbidden) {
			t.Errorf("%s asking for a realm user's link: %v, want forbidden", name, err)
		}
	}
	link, err = e.svc.SetPasswordLink(e.sys, console.ID, e.boot.Owner.UserID)
	if err != nil || !strings.HasPrefix(link, "/realms/console/login-actions/set-password?token=") {
		t.Fatalf("console link %q, %v", link, err)
	}
	// The console account's link event belongs to its org.
	orgEv, _ := e.svc.ListEvents(e.owner, "", realm.EventFilter{Type: "user.set_password_link_issued"})
	if len(orgEv.Items) != 1 {
		t.Fatalf("org-level link events: %d, want 1", len(orgEv.Items))
	}
	ev, _ := e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: "user.set_password_link_issued"})
	b, _ := json.Marshal(ev)
	// One link from creating the user, one asked for here.
	if len(ev.Items) != 2 || strings.Contains(string(b), token) {
		t.Fatalf("link events %s", b)
	}
}

func TestClientWebOriginsNormalized(t *testing.T) { eachBackend(t, testClientWebOriginsNormalized) }

// testClientWebOriginsNormalized: web origins are stored as browsers
// serialize origins (lower-case scheme and host, no default port), since
// CORS and the web_message page compare them with what browsers send; the
// same origin written twice is a duplicate.
func testClientWebOriginsNormalized(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	app, _, err := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "app", Kind: "application", Public: true,
		RedirectURIs: []string{"https://app.example.com/cb"},
		WebOrigins:   []string{"HTTPS://App.Example.com:443", "http://LOCALHOST:03000", "http://[::1]:80"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://app.example.com", "http://localhost:3000", "http://[::1]"}
	if !slices.Equal(app.WebOrigins, want) {
		t.Errorf("created web_origins %v, want %v", app.WebOrigins, want)
	}
	got, err := e.svc.GetClient(e.admin, "shop", app.ClientID)
	if err != nil || !slices.Equal(got.WebOrigins, want) {
		t.Errorf("stored web_origins %v (%v), want %v", got.WebOrigins, err, want)
	}
	_, _, err = e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "dup", Kind: "application", Public: true,
		WebOrigins: []string{"https://app.example.com", "https://APP.example.com:443", "https://app.example.com:99999"}})
	wantInvalid(t, err, "web_origins[1]", "web_origins[2]")

	patched, err := e.svc.UpdateClient(e.admin, "shop", app.ClientID, realm.ClientPatch{WebOrigins: &[]string{"https://Other.Example.COM:8443"}})
	if err != nil || !slices.Equal(patched.WebOrigins, []string{"https://other.example.com:8443"}) {
		t.Errorf("patched web_origins %v (%v)", patched.WebOrigins, err)
	}
}
