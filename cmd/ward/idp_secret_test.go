package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestIdPClientSecretSealed: an OpenID Connect provider's client_secret
// (CONTRACT §9, write-only) is kept sealed with a key derived from
// WARD_MASTER_KEY, on SQLite and PostgreSQL. The database holds no
// plaintext of it, in the provider's row or in the audit log; Ward with
// the master key it was saved under opens it and signs in through the
// provider with it; Ward with another master key cannot open it (and
// ward serve with that key does not start), the provider staying as it
// was.
func TestIdPClientSecretSealed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { idpClientSecretSealed(t, "") })
	t.Run("postgres", func(t *testing.T) { idpClientSecretSealed(t, sqltest.PostgresDSN(t)) })
}

// otherMasterKey is a valid master key that is not newWardEnv's.
var otherMasterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))

func idpClientSecretSealed(t *testing.T, db string) {
	ctx := context.Background()
	w := newWardEnv(t, db)
	w.env = append(w.env, "WARD_IDP_ALLOW_PRIVATE_NETWORKS=1") // the provider is a realm of this server
	s, a := adminFor(t, w)
	const password = "sealed secrets stay sealed"

	// hq is the company's IdP: a realm with Carol and a confidential
	// client for shop's broker, whose secret is the one sealed.
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "hq"})
	a.must(201, "POST", "/admin/v1/realms/hq/users", map[string]any{"email": "carol@hq.test", "first_name": "Carol", "last_name": "D"})
	setPasswordFromOutbox(t, w, password)
	brokerClient := a.must(201, "POST", "/admin/v1/realms/hq/clients", map[string]any{"name": "shop-broker", "kind": "application",
		"redirect_uris": []string{s.URL + "/realms/shop/broker/corp/endpoint"}})
	secret := brokerClient["client_secret"].(string)
	if len(secret) < 32 {
		t.Fatalf("hq's client secret %q is too short to search for", secret)
	}

	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	appID := a.must(201, "POST", "/admin/v1/realms/shop/clients", map[string]any{"name": "webapp", "kind": "application",
		"public": true, "redirect_uris": []string{nodesRedirect}})["client_id"].(string)
	p := a.must(201, "POST", "/admin/v1/realms/shop/identity-providers", map[string]any{"alias": "corp", "kind": "oidc", "display_name": "Corp",
		"oidc": map[string]any{"issuer": s.URL + "/realms/hq", "client_id": brokerClient["client_id"], "client_secret": secret}})
	o, _ := p["oidc"].(map[string]any)
	if p["enabled"] != true || o["has_client_secret"] != true || o["client_secret"] != nil || strings.Contains(fmt.Sprint(p), secret) {
		t.Fatalf("the provider as the admin API answers it: %v", p)
	}

	t.Run("no plaintext in the database", func(t *testing.T) {
		store, err := sql.Open(ctx, sql.Config{DSN: w.db})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		var sealed []byte
		if err := store.DB().Raw("SELECT oidc_client_secret_sealed FROM identity_providers WHERE alias = ?", "corp").Row().Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		// AES-GCM: a 12-byte nonce, the ciphertext (as long as the
		// secret) and a 16-byte tag.
		if len(sealed) != 12+len(secret)+16 {
			t.Errorf("the sealed secret is %d bytes, want %d (nonce, ciphertext, tag)", len(sealed), 12+len(secret)+16)
		}
		// Not the secret, nor any 8 bytes of it in a row, in the sealed
		// column or anywhere else in the provider's row or in the events.
		var rows []map[string]any
		if err := store.DB().Raw("SELECT * FROM identity_providers").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		var events []map[string]any
		if err := store.DB().Raw("SELECT * FROM events").Scan(&events).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || len(events) == 0 {
			t.Fatalf("%d provider rows, %d events", len(rows), len(events))
		}
		// holds reports whether a column's value contains s (text and
		// bytes are what the drivers answer for these columns).
		holds := func(v any, s string) bool {
			switch v := v.(type) {
			case []byte:
				return bytes.Contains(v, []byte(s))
			case string:
				return strings.Contains(v, s)
			}
			return false
		}
		// The search sees the row: the provider's client_id, stored in
		// plain, is found.
		if !holds(rows[0]["oidc_client_id"], brokerClient["client_id"].(string)) {
			t.Fatalf("the provider's row as read: %v", rows[0])
		}
		for i, row := range append(rows, events...) {
			for col, v := range row {
				for j := 0; j+8 <= len(secret); j++ {
					if holds(v, secret[j:j+8]) {
						t.Errorf("row %d, column %s holds part of the client secret: %v", i, col, v)
						break
					}
				}
			}
		}
	})

	// open builds Ward's parts in this process on the database, with the
	// given master key (as every command does), and opens the provider's
	// client secret.
	open := func(t *testing.T, masterKey string) (string, error) {
		t.Helper()
		st := settings{DB: w.db, DataDir: w.dataDir, MasterKey: masterKey}
		app, err := build(ctx, appConfig{settings: &st, log: slog.New(slog.NewTextHandler(io.Discard, nil)), publicURL: s.URL})
		if err != nil {
			t.Fatalf("building with a master key: %v", err)
		}
		defer app.store.Close()
		r, err := app.store.GetRealmByName(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		prov, err := app.store.GetIdentityProvider(ctx, r.ID, "corp")
		if err != nil {
			t.Fatal(err)
		}
		return app.idps.ClientSecret(prov)
	}
	rightKey := strings.TrimPrefix(w.env[slices.IndexFunc(w.env, func(e string) bool { return strings.HasPrefix(e, "WARD_MASTER_KEY=") })], "WARD_MASTER_KEY=")

	t.Run("opens with the master key it was saved under", func(t *testing.T) {
		if got, err := open(t, rightKey); err != nil || got != secret {
			t.Errorf("the client secret opened with the right master key = %q, %v; want hq's secret", got, err)
		}
		// And Ward signs in through the provider with it: hq's token
		// endpoint accepts it when the broker redeems Carol's code.
		code := signInThroughCorp(t, s, appID, password)
		if code == "" {
			t.Fatal("no code")
		}
	})

	t.Run("does not open with another master key", func(t *testing.T) {
		got, err := open(t, otherMasterKey)
		const want = "realm: a sealed identity provider secret does not decrypt (wrong master key or damaged row)"
		if err == nil || err.Error() != want || got != "" {
			t.Errorf("the client secret opened with another master key = %q, %v; want the error %q", got, err, want)
		}

		// A node with that other key does not start: it would open neither
		// this secret nor the realm's signing keys (TestServeRefusesAnotherMasterKey).
		other := &wardEnv{dataDir: w.dataDir, db: w.db, env: append(slices.Clone(w.env), "WARD_MASTER_KEY="+otherMasterKey)}
		if _, stderr, code := other.command(t, "serve", "--addr", "127.0.0.1:0"); code != 1 || !strings.Contains(stderr, "WARD_MASTER_KEY does not open") {
			t.Errorf("ward serve with another master key: exit %d, stderr:\n%s", code, stderr)
		}
		// Nothing changed: the provider is still enabled with its secret,
		// and the node with the right key still signs in through it.
		p := a.must(200, "GET", "/admin/v1/realms/shop/identity-providers/corp", nil)
		if o, _ := p["oidc"].(map[string]any); p["enabled"] != true || p["disabled_reason"] != nil && p["disabled_reason"] != "" || o["has_client_secret"] != true {
			t.Errorf("the provider after the failed sign-in: %v", p)
		}
		signInThroughCorp(t, s, appID, password)
	})
}

// signInThroughCorp signs Carol in to shop's application through shop's
// provider corp (realm hq of the same server), as a browser: shop's
// authorization request with kc_idp_hint, hq's login form, the broker's
// endpoint, back to the application with a code. It returns the code.
func signInThroughCorp(t *testing.T, s *server, appID, password string) string {
	t.Helper()
	ua := browser(t)
	// The application's redirect URI has no server: stop there.
	ua.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), nodesRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	auth := shopApp(s.URL, appID).AuthCodeURL("state-of-corp", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oidc.Nonce("nonce-of-corp"), oauth2.SetAuthURLParam("kc_idp_hint", "corp"))
	resp, body, csrf := page(t, ua, auth)
	if !strings.HasPrefix(resp.Request.URL.String(), s.URL+"/realms/hq/") {
		t.Fatalf("kc_idp_hint=corp led to %s, want hq's login page", resp.Request.URL)
	}
	m := loginAction.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no login form at hq:\n%s", body)
	}
	resp, err := ua.PostForm(s.URL+html.UnescapeString(m[1]), url.Values{"csrf_token": {csrf}, "email": {"carol@hq.test"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), nodesRedirect) ||
		loc.Query().Get("state") != "state-of-corp" || loc.Query().Get("code") == "" {
		t.Fatalf("signing in through corp ended at %s = %d, Location %v:\n%s", resp.Request.URL, resp.StatusCode, loc, body)
	}
	return loc.Query().Get("code")
}

// TestServeRefusesAnotherMasterKey: ward serve on a database set up under
// another master key stops at start (exit 1) saying so, rather than
// serving and failing every signature; with its own key it starts. SQLite
// and PostgreSQL.
func TestServeRefusesAnotherMasterKey(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{
		"sqlite": func(*testing.T) string { return "" }, "postgres": func(t *testing.T) string { return sqltest.PostgresDSN(t) }} {
		t.Run(name, func(t *testing.T) {
			w := newWardEnv(t, dsn(t))
			w.serve(t).stop(t) // sets the database up, console realm and its key
			other := &wardEnv{dataDir: w.dataDir, db: w.db, env: append(slices.Clone(w.env), "WARD_MASTER_KEY="+otherMasterKey)}
			_, stderr, code := other.command(t, "serve", "--addr", "127.0.0.1:0")
			const want = "WARD_MASTER_KEY does not open the signing keys stored in this database"
			if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "start Ward with the master key the database was set up with") {
				t.Errorf("ward serve with another master key: exit %d, want 1 saying %q; stderr:\n%s", code, want, stderr)
			}
			if strings.Contains(stderr, otherMasterKey) {
				t.Error("the master key is in the output")
			}
			w.serve(t) // its own key still starts
		})
	}
}
