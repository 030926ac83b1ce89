package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// roundRobin is the load balancer in front of the nodes: a reverse proxy
// that sends each request to the next node in turn, so the requests of one
// sign-in or one console session land on different nodes. It keeps the
// Host the client asked for, as a load balancer does.
type roundRobin struct {
	URL   string
	nodes atomic.Pointer[[]*url.URL]
	next  atomic.Uint64
}

func newRoundRobin(t *testing.T) *roundRobin {
	rr := &roundRobin{}
	srv := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		nodes := *rr.nodes.Load()
		pr.SetURL(nodes[rr.next.Add(1)%uint64(len(nodes))])
		pr.Out.Host = pr.In.Host
	}})
	t.Cleanup(srv.Close)
	rr.URL = srv.URL
	return rr
}

// balance puts nodes behind the load balancer (they are started after it,
// as their public URL is its URL).
func (rr *roundRobin) balance(t *testing.T, nodes ...*server) {
	var us []*url.URL
	for _, n := range nodes {
		u, err := url.Parse(n.URL)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	rr.nodes.Store(&us)
}

// inForceBy polls check until it passes. "In force within d" means that
// every request made after d sees the change, so the test fails only when
// a check that began after deadline still sees the old state; misses before
// it are the propagation the contract allows.
func inForceBy(t *testing.T, deadline time.Time, what string, check func() error) {
	t.Helper()
	for {
		began := time.Now()
		err := check()
		if err == nil {
			return
		}
		if began.After(deadline) {
			t.Errorf("%s: not in force by the deadline: %v", what, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// formCall posts form to target, as client id when id is set, and returns
// the status and the JSON answer (nil for an empty body).
func formCall(t *testing.T, target, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, resp)
	var out map[string]any
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("POST %s = %d, not JSON: %s", target, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

// wantOAuthError is nil when a token answer is the RFC 6749 error the
// contract names (and, when description is set, says it).
func wantOAuthError(status int, out map[string]any, wantStatus int, code, description string) error {
	if status != wantStatus || out["error"] != code || description != "" && out["error_description"] != description {
		return fmt.Errorf("answer %d %v, want %d %s %q", status, out, wantStatus, code, description)
	}
	return nil
}

// shopApp is the public application of realm shop with its endpoints at
// base: one node, or the load balancer.
func shopApp(base, clientID string) *oauth2.Config {
	issuer := base + "/realms/shop"
	return &oauth2.Config{ClientID: clientID, RedirectURL: nodesRedirect, Scopes: []string{"openid", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/protocol/openid-connect/auth", TokenURL: issuer + "/protocol/openid-connect/token",
			AuthStyle: oauth2.AuthStyleInParams}}
}

const nodesRedirect = "http://127.0.0.1:43187/cb"

// passwordAt opens the application's login page at base and sends email and
// password, as a browser that does not follow the answer's redirect; with
// the load balancer, the page and the form go to different nodes.
func passwordAt(t *testing.T, base, clientID, verifier, email, password string) (int, *url.URL, string) {
	t.Helper()
	ua := browser(t)
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, body, csrf := page(t, ua, shopApp(base, clientID).AuthCodeURL("state-of-nodes",
		oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-of-nodes")))
	m := loginAction.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no login form at %s:\n%s", base, body)
	}
	resp, err := ua.PostForm(base+html.UnescapeString(m[1]), url.Values{"csrf_token": {csrf}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return resp.StatusCode, loc, body
}

// codeAt signs email in at base and returns the authorization code and the
// PKCE verifier it was asked with.
func codeAt(t *testing.T, base, issuer, clientID, email, password string) (string, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	status, loc, body := passwordAt(t, base, clientID, verifier, email, password)
	if status != http.StatusSeeOther || loc == nil || loc.Query().Get("iss") != issuer ||
		loc.Query().Get("state") != "state-of-nodes" || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in at %s = %d, Location %v:\n%s", base, status, loc, body)
	}
	return loc.Query().Get("code"), verifier
}

// jwksAt is the JWKS node n serves for realmName.
func jwksAt(t *testing.T, n *server, realmName string) jose.JSONWebKeySet {
	t.Helper()
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(readBody(t, n.get(t, "/realms/"+realmName+"/protocol/openid-connect/certs"))), &jwks); err != nil {
		t.Fatalf("JWKS of %s: %v", n.URL, err)
	}
	return jwks
}

// signedKid verifies an ES256 token against the JWKS that node n serves
// for realmName and returns the token's kid and whether it verified.
func signedKid(t *testing.T, n *server, realmName, token string) (string, bool) {
	t.Helper()
	jwks := jwksAt(t, n, realmName)
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("not an ES256 JWT: %v", err)
	}
	kid := tok.Headers[0].KeyID
	keys := jwks.Key(kid)
	var claims map[string]any
	return kid, len(keys) == 1 && tok.Claims(keys[0].Key, &claims) == nil
}

// TestNodes proves CONTRACT §8 step by step: two `ward serve` nodes share
// one PostgreSQL database behind a round-robin load balancer whose URL is
// their public URL (one issuer). Where "the other node" matters the test
// addresses the nodes directly; a whole flow also goes through the load
// balancer. A third node that is killed with mail in flight, and node a
// killed at the end, show that queued mail is sent once by whichever node
// is up.
func TestNodes(t *testing.T) {
	ctx := context.Background()
	smtpSrv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	w := newWardEnv(t, sqltest.PostgresDSN(t))
	w.env = append(w.env, "WARD_SMTP_URL=smtp://"+smtpSrv.Addr+"?starttls=none")
	lb := newRoundRobin(t)
	a, owner := adminFor(t, w, "--public-url", lb.URL)
	b := w.serve(t, "--public-url", lb.URL)
	lb.balance(t, a, b)
	nodes := []*server{a, b}
	// The owner's token, from node a, at a given node for a given (sub)test.
	adminAt := func(t *testing.T, s *server) *admin { return &admin{t: t, base: s.URL, token: owner.token} }
	var mailed []string // everyone who must get exactly one mail
	linkFor := func(t *testing.T, email string) string {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if m := received(t, w, smtpSrv)[email]; len(m) > 0 && m[0].link != "" {
				return m[0].link
			}
			if time.Now().After(deadline) {
				t.Fatalf("no set-password mail to %s within 20 s", email)
			}
		}
	}

	// Node c sends through a server that holds every mail: the mail it has
	// claimed when it is killed stays with it until its lease runs out, and
	// must then be sent, once, by a node that is up.
	held := mailtest.Start(t, &mailtest.Server{Hold: make(chan struct{})}, mailtest.Plain, nil)
	t.Cleanup(func() { close(held.Hold) })
	wc := &wardEnv{dataDir: w.dataDir, db: w.db, env: append(slices.Clone(w.env), "WARD_SMTP_URL=smtp://"+held.Addr+"?starttls=none")}
	c := wc.serve(t, "--public-url", lb.URL)
	owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	for i := range 4 {
		email := fmt.Sprintf("held%d@vault.test", i)
		if status, _, err := createUser(c.URL, owner.token, email); status != 201 || err != nil {
			t.Fatalf("creating %s at node c = %d, %v", email, status, err)
		}
		mailed = append(mailed, email)
	}
	for deadline := time.Now().Add(20 * time.Second); held.DataCommands() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node c sent no mail within 20 s:\n%s", c.logs())
		}
	}
	_ = c.cmd.Process.Kill() // SIGKILL: no shutdown, its claims stay
	<-c.done

	// Realm keys is rotated now, with both nodes' providers warm, and
	// checked last (the rotation takes up to 30 s; the other steps run
	// meanwhile).
	store, err := sql.Open(ctx, sql.Config{DSN: w.db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "keys"})
	signer := owner.must(201, "POST", "/admin/v1/realms/keys/clients", map[string]any{"name": "signer", "kind": "service_account"})
	signerID, signerSecret := signer["client_id"].(string), signer["client_secret"].(string)
	// Its key is made an hour old, as in a realm in use, before any node
	// loads it: only then does a new key wait until every node publishes
	// it (in a realm younger than that, a new key signs at once).
	if err := store.DB().Exec("UPDATE signing_keys SET created_at = ? WHERE realm_id = (SELECT id FROM realms WHERE name = ?)",
		time.Now().Add(-time.Hour).UTC(), "keys").Error; err != nil {
		t.Fatal(err)
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	oldKids := map[string]bool{}
	for _, n := range nodes {
		status, tok := formCall(t, tokenEndpoint(n.URL, "keys"), signerID, signerSecret, cc)
		if status != 200 {
			t.Fatalf("client_credentials at %s = %d %v", n.URL, status, tok)
		}
		kid, ok := signedKid(t, n, "keys", tok["access_token"].(string))
		if !ok {
			t.Fatalf("a token of %s does not verify at its own JWKS", n.URL)
		}
		oldKids[kid] = true
	}
	if len(oldKids) != 1 {
		t.Fatalf("before the rotation the nodes sign with %v", oldKids)
	}
	if out, errOut, code := w.command(t, "rotate-key", "--realm", "keys"); code != 0 {
		t.Fatalf("rotate-key: exit %d, %s %s", code, out, errOut)
	}
	rotated := time.Now()
	// Both nodes publish the new key at once (and sign with it later).
	for _, n := range nodes {
		inForceBy(t, rotated.Add(time.Second), "the new key in the JWKS of "+n.URL, func() error {
			if keys := jwksAt(t, n, "keys").Keys; len(keys) != 2 {
				return fmt.Errorf("JWKS has %d keys, want the old and the new", len(keys))
			}
			return nil
		})
	}

	// Realm shop: an application, a service account in a group with an
	// attribute value, an introspecting client, two users with passwords.
	shop := "/admin/v1/realms/shop"
	owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	owner.must(201, "POST", shop+"/attributes", map[string]any{"name": "tier", "type": "string"})
	goldID := owner.must(201, "POST", shop+"/groups", map[string]any{"name": "Gold", "attributes": map[string]any{"tier": "gold"}})["id"].(string)
	appID := owner.must(201, "POST", shop+"/clients", map[string]any{
		"name": "webapp", "kind": "application", "public": true, "redirect_uris": []string{nodesRedirect}})["client_id"].(string)
	svc := owner.must(201, "POST", shop+"/clients", map[string]any{
		"name": "svc", "kind": "service_account", "groups": []string{goldID}, "primary_group": goldID})
	svcID, svcSecret := svc["client_id"].(string), svc["client_secret"].(string)
	auditor := owner.must(201, "POST", shop+"/clients", map[string]any{"name": "auditor", "kind": "service_account"})
	audID, audSecret := auditor["client_id"].(string), auditor["client_secret"].(string)
	const password = "nodes share one database"
	users := map[string]string{}
	for _, email := range []string{"ada@shop.test", "lee@shop.test"} {
		users[email] = owner.must(201, "POST", shop+"/users", map[string]any{"email": email, "first_name": "U", "last_name": "Nodes"})["id"].(string)
		mailed = append(mailed, email)
		setPasswordVia(t, linkFor(t, email), password)
	}
	issuer := lb.URL + "/realms/shop"
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(base, rt string) (*oauth2.Token, error) {
		return shopApp(base, appID).TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
	}
	wantInvalidGrant := func(t *testing.T, what string, err error) {
		t.Helper()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != 400 || re.ErrorCode != "invalid_grant" {
			t.Errorf("%s: %v, want 400 invalid_grant", what, err)
		}
	}

	t.Run("code issued at one node, redeemed at the other", func(t *testing.T) {
		code, verifier := codeAt(t, a.URL, issuer, appID, "ada@shop.test", password)
		tok, err := shopApp(b.URL, appID).Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("the code from node a at node b: %v", err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: appID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil || idt.Subject != users["ada@shop.test"] || idt.Nonce != "nonce-of-nodes" {
			t.Fatalf("ID token from node b: %v (sub %v)", err, idt)
		}
		// The refresh token from node b, at node a.
		tok2, err := refresh(a.URL, tok.RefreshToken)
		if err != nil {
			t.Fatalf("node b's refresh token at node a: %v", err)
		}
		if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
			t.Fatalf("the refresh token did not rotate at node a")
		}
		if got := introspect(t, b.URL, "shop", audID, audSecret, tok2.RefreshToken); got["active"] != true {
			t.Fatalf("node a's refresh token at node b: %v, want active", got)
		}
		// Revoked at node b: over at node a.
		status, out := formCall(t, b.URL+"/realms/shop/protocol/openid-connect/revoke", "", "",
			url.Values{"token": {tok2.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {appID}})
		if status != 200 {
			t.Fatalf("revoke at node b = %d %v", status, out)
		}
		if got := introspect(t, a.URL, "shop", audID, audSecret, tok2.RefreshToken); got["active"] != false {
			t.Errorf("a refresh token revoked at node b introspects at node a as %v, want inactive", got)
		}
		_, err = refresh(a.URL, tok2.RefreshToken)
		wantInvalidGrant(t, "a refresh token revoked at node b, at node a", err)
	})

	t.Run("a whole flow through the load balancer", func(t *testing.T) {
		conf := shopApp(lb.URL, appID)
		code, verifier := codeAt(t, lb.URL, issuer, appID, "ada@shop.test", password)
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := provider.Verifier(&oidc.Config{ClientID: appID}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
			t.Fatal(err)
		}
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != users["ada@shop.test"] || info.Email != "ada@shop.test" {
			t.Fatalf("userinfo: %v %+v", err, info)
		}
		tok2, err := refresh(lb.URL, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		// The code is used up on both nodes, and its second use revokes
		// what the first issued (the rotated refresh token too).
		for _, n := range nodes {
			_, err := shopApp(n.URL, appID).Exchange(ctx, code, oauth2.VerifierOption(verifier))
			wantInvalidGrant(t, "the used code at "+n.URL, err)
		}
		_, err = refresh(lb.URL, tok2.RefreshToken)
		wantInvalidGrant(t, "a refresh token of a code used twice", err)
	})

	t.Run("console session on either node", func(t *testing.T) {
		// TestConsoleTwoNodes covers one console session on two nodes in
		// detail; here a member signs in and goes on through the load
		// balancer, each request on the other node.
		owner := adminAt(t, a)
		owner.must(201, "POST", "/admin/v1/members", map[string]any{
			"email": "nia@acme.test", "first_name": "Nia", "last_name": "Nodes", "role": "admin"})
		mailed = append(mailed, "nia@acme.test")
		setPasswordVia(t, linkFor(t, "nia@acme.test"), password)
		ua := browser(t)
		ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		consoleSignIn(t, &server{URL: lb.URL}, ua, "nia@acme.test", password)
		for i := range 4 {
			resp, err := ua.Get(lb.URL + "/console")
			if err != nil {
				t.Fatal(err)
			}
			if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "data-role>admin<") {
				t.Fatalf("request %d of the session = %d:\n%s", i, resp.StatusCode, body)
			}
		}
	})

	t.Run("lockout counted across nodes", func(t *testing.T) {
		// CONTRACT §4: after 10 consecutive failed logins sign-in is
		// refused. Five failures at each node lock the account only if
		// the nodes count together.
		lockouts := func() int {
			ev := adminAt(t, b).must(200, "GET", shop+"/events?type=user.locked_out", nil)["items"].([]any)
			for _, e := range ev {
				if e.(map[string]any)["target_id"] != users["lee@shop.test"] {
					t.Errorf("lockout event for another user: %v", e)
				}
			}
			return len(ev)
		}
		for i := range 10 {
			n := nodes[i%2]
			status, _, body := passwordAt(t, n.URL, appID, oauth2.GenerateVerifier(), "lee@shop.test", fmt.Sprintf("wrong password %d", i))
			if status != http.StatusUnauthorized || !strings.Contains(body, "Invalid email or password.") {
				t.Fatalf("failure %d at %s = %d:\n%s", i+1, n.URL, status, body)
			}
			if i == 8 {
				if n := lockouts(); n != 0 {
					t.Fatalf("%d lockouts after 9 failures, want 0", n)
				}
			}
		}
		if n := lockouts(); n != 1 {
			t.Fatalf("%d lockouts after 10 failures on two nodes, want 1", n)
		}
		for _, n := range nodes {
			status, _, body := passwordAt(t, n.URL, appID, oauth2.GenerateVerifier(), "lee@shop.test", password)
			if status != http.StatusUnauthorized || !strings.Contains(body, "Invalid email or password.") {
				t.Errorf("the right password of a locked account at %s = %d, want 401:\n%s", n.URL, status, body)
			}
		}
	})

	t.Run("admin change in force on both within 1 s", func(t *testing.T) {
		// onBoth checks each node until a second after the change was
		// acknowledged (the change is made at one node: the other is the
		// one that matters).
		onBoth := func(t *testing.T, changed time.Time, what string, check func(base string) error) {
			t.Helper()
			for _, n := range nodes {
				inForceBy(t, changed.Add(time.Second), what+" at "+n.URL, func() error { return check(n.URL) })
			}
		}
		change := func(t *testing.T, at *server, method, path string, body any) time.Time {
			adminAt(t, at).must(200, method, path, body)
			return time.Now()
		}
		tier := func(t *testing.T, want string) func(string) error {
			return func(base string) error {
				status, out := formCall(t, tokenEndpoint(base, "shop"), svcID, svcSecret, cc)
				if status != 200 {
					return fmt.Errorf("client_credentials = %d %v", status, out)
				}
				attrs, _ := decodeJWT(t, out["access_token"].(string))["attributes"].(map[string]any)
				if attrs["tier"] != want {
					return fmt.Errorf("the token carries tier %v, want %s", attrs["tier"], want)
				}
				return nil
			}
		}

		t.Run("attribute value", func(t *testing.T) {
			// Before the change (a deadline passed already: it must hold at once).
			onBoth(t, time.Now().Add(-time.Second), "tier gold before the change", tier(t, "gold"))
			changed := change(t, b, "PATCH", shop+"/groups/"+goldID, map[string]any{"attributes": map[string]any{"tier": "platinum"}})
			onBoth(t, changed, "tier platinum", tier(t, "platinum"))
		})

		t.Run("allow list", func(t *testing.T) {
			// 127.0.0.1, the test's address, is outside the list.
			changed := change(t, a, "PUT", shop+"/ip-allow-list", map[string]any{"cidrs": []string{"203.0.113.0/24"}})
			onBoth(t, changed, "client_credentials refused from outside the list", func(base string) error {
				status, out := formCall(t, tokenEndpoint(base, "shop"), svcID, svcSecret, cc)
				return wantOAuthError(status, out, 403, "access_denied", "Requests from this network are not allowed.")
			})
			changed = change(t, b, "PUT", shop+"/ip-allow-list", map[string]any{"cidrs": []string{}})
			onBoth(t, changed, "client_credentials allowed again", tier(t, "platinum"))
		})

		t.Run("API key deactivated", func(t *testing.T) {
			owner := adminAt(t, a)
			owner.must(201, "POST", shop+"/permissions", map[string]any{"name": "asset:read", "description": "Read assets"})
			key := owner.must(201, "POST", shop+"/api-keys", map[string]any{"description": "widget", "permissions": []string{"asset:read"}})
			exchange := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
				"subject_token": {key["key"].(string)}, "subject_token_type": {"urn:ward:params:oauth:token-type:api-key"}}
			// Before the change, at once.
			onBoth(t, time.Now().Add(-time.Second), "the exchange before the change", func(base string) error {
				status, out := formCall(t, tokenEndpoint(base, "shop"), svcID, svcSecret, exchange)
				if status != 200 || decodeJWT(t, out["access_token"].(string))["kind"] != "api_key" {
					return fmt.Errorf("exchange = %d %v", status, out)
				}
				return nil
			})
			changed := change(t, b, "PATCH", shop+"/api-keys/"+key["id"].(string), map[string]any{"active": false})
			onBoth(t, changed, "the exchange of a deactivated key refused", func(base string) error {
				status, out := formCall(t, tokenEndpoint(base, "shop"), svcID, svcSecret, exchange)
				return wantOAuthError(status, out, 400, "invalid_grant", "API key is deactivated")
			})
		})

		t.Run("client disabled", func(t *testing.T) {
			status, before := formCall(t, tokenEndpoint(a.URL, "shop"), svcID, svcSecret, cc)
			if status != 200 {
				t.Fatalf("client_credentials = %d %v", status, before)
			}
			changed := change(t, a, "PATCH", shop+"/clients/"+svcID, map[string]any{"active": false})
			onBoth(t, changed, "the disabled client refused", func(base string) error {
				status, out := formCall(t, tokenEndpoint(base, "shop"), svcID, svcSecret, cc)
				return wantOAuthError(status, out, 401, "invalid_client", "")
			})
			onBoth(t, changed, "the disabled client's token inactive", func(base string) error {
				if got := introspect(t, base, "shop", audID, audSecret, before["access_token"].(string)); got["active"] != false {
					return fmt.Errorf("introspection %v", got)
				}
				return nil
			})
		})

		t.Run("support access switched off", func(t *testing.T) {
			// CONTRACT §7: switching support access off ends support
			// tokens at once on every node. The switch is made at node
			// b; the token is used at each node directly.
			adminAt(t, b).must(200, "PUT", "/admin/v1/support-access", map[string]any{"enabled": true})
			// The token's issuer is the public URL the nodes share.
			out, errOut, code := w.command(t, "support-token", "--public-url", lb.URL, "--org", "acme", "--reason", "ticket 16", "--ttl", "10m")
			if code != 0 {
				t.Fatalf("support-token: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			support := strings.TrimSpace(out)
			// Every call the token gets through is one support.call
			// event; a refused call is not (it is never made).
			var made []string
			call := func(base string) (int, map[string]any) {
				st, m := supportDo(t, base, support, "GET", "/admin/v1/realms", nil)
				if st == 200 {
					made = append(made, base)
				}
				return st, m
			}
			for _, n := range nodes {
				if st, m := call(n.URL); st != 200 {
					t.Fatalf("the support token at %s while support access is on = %d %v, want 200", n.URL, st, m)
				}
			}
			changed := change(t, b, "PUT", "/admin/v1/support-access", map[string]any{"enabled": false})
			onBoth(t, changed, "the support token refused", func(base string) error {
				st, m := call(base)
				if detail, _ := m["detail"].(string); st != 401 || !strings.Contains(detail, "support access to this organization is off") {
					return fmt.Errorf("the support token = %d %v, want 401 naming support access", st, m)
				}
				return nil
			})
			items, _ := adminAt(t, a).must(200, "GET", "/admin/v1/events?type=support.call", nil)["items"].([]any)
			if len(items) != len(made) {
				t.Fatalf("%d support.call events for the %d calls made (%v): %v", len(items), len(made), made, items)
			}
			for _, it := range items {
				ev := it.(map[string]any)
				d, _ := ev["details"].(map[string]any)
				if ev["type"] != "support.call" || ev["actor_type"] != "support" || d["reason"] != "ticket 16" ||
					d["method"] != "GET" || d["path"] != "/admin/v1/realms" {
					t.Errorf("support.call event: %v", ev)
				}
			}
		})
	})

	t.Run("key rotation within 30 s", func(t *testing.T) {
		// Every token either node issues verifies at the other node
		// throughout, and a check begun 30 s after the rotation finds both
		// signing with the new key (a node signs with a new key only once
		// every node publishes it).
		deadline := rotated.Add(30 * time.Second)
		for {
			began := time.Now()
			var kids [2]string // the kid each node signs with now
			for i, n := range nodes {
				status, tok := formCall(t, tokenEndpoint(n.URL, "keys"), signerID, signerSecret, cc)
				if status != 200 {
					t.Fatalf("client_credentials at %s = %d %v", n.URL, status, tok)
				}
				other := nodes[1-i]
				kid, ok := signedKid(t, other, "keys", tok["access_token"].(string))
				if !ok {
					t.Fatalf("%.1f s after the rotation a token of %s (kid %s) does not verify at %s",
						time.Since(rotated).Seconds(), n.URL, kid, other.URL)
				}
				kids[i] = kid
			}
			if kids[0] == kids[1] && !oldKids[kids[0]] {
				break
			}
			if began.After(deadline) {
				t.Fatalf("30 s after the rotation the nodes sign with %v (old key %v)", kids, oldKids)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("both nodes sign with the new key %.1f s after the rotation", time.Since(rotated).Seconds())
		// Both publish the old key as well, for its tokens still out there.
		for _, n := range nodes {
			jwks := jwksAt(t, n, "keys")
			for kid := range oldKids {
				if len(jwks.Key(kid)) != 1 {
					t.Errorf("the old key %s left the JWKS of %s", kid, n.URL)
				}
			}
		}
	})

	t.Run("queued mail sent once by whichever node is up", func(t *testing.T) {
		// allSent waits until every user has mail and the outbox is empty.
		allSent := func(deadline time.Time) map[string][]receivedMail {
			for ; ; time.Sleep(200 * time.Millisecond) {
				mails := received(t, w, smtpSrv)
				missing := 0
				for _, email := range mailed {
					if len(mails[email]) == 0 {
						missing++
					}
				}
				var rows int64
				if err := store.DB().Table("mail_outbox").Count(&rows).Error; err != nil {
					t.Fatal(err)
				}
				if missing == 0 && rows == 0 {
					return mails
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d users without mail, %d outbox rows left", missing, rows)
				}
			}
		}
		// Node c's mail waits out its 30 s lease (renewed every 10 s while
		// it was sending), then a node that is up claims it (polling every
		// 2 s).
		allSent(time.Now().Add(45 * time.Second))
		// With nothing in flight, node a goes too: what is queued now is
		// sent by node b alone.
		_ = a.cmd.Process.Kill()
		<-a.done
		for i := range 3 {
			email := fmt.Sprintf("late%d@vault.test", i)
			if status, _, err := createUser(b.URL, owner.token, email); status != 201 || err != nil {
				t.Fatalf("creating %s at node b = %d, %v", email, status, err)
			}
			mailed = append(mailed, email)
		}
		mails := allSent(time.Now().Add(20 * time.Second))
		for _, email := range mailed {
			if n := len(mails[email]); n != 1 {
				t.Errorf("%s got %d mails, want 1", email, n)
			}
		}
		for email := range mails {
			if !slices.Contains(mailed, email) {
				t.Errorf("a mail to %s, who was never mailed", email)
			}
		}
		if n := len(held.Received()); n != 0 {
			t.Errorf("the killed node delivered %d mails", n)
		}
		if ev := adminAt(t, b).must(200, "GET", "/admin/v1/realms/vault/events?type=mail.failed", nil); len(ev["items"].([]any)) != 0 {
			t.Errorf("mail.failed events: %v", ev["items"])
		}
	})
}
