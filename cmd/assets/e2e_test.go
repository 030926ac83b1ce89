package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// The end-to-end test builds the real ward and assets binaries and runs
// them on loopback, as an operator would: Ward issues the tokens and serves
// the policies, cmd/assets enforces them.

var wardBin, assetsBin string

func TestMain(m *testing.M) {
	code, err := buildAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func buildAndRun(m *testing.M) (int, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return 0, fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	dir, err := os.MkdirTemp("", "assets-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	wardBin, assetsBin = filepath.Join(dir, "ward"), filepath.Join(dir, "assets")
	for bin, pkg := range map[string]string{wardBin: "./cmd/ward", assetsBin: "./cmd/assets"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = root
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return 0, fmt.Errorf("building %s: %w", pkg, err)
		}
	}
	return m.Run(), nil
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a running server process.
type proc struct {
	URL    string
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error
}

// start runs bin with args and env and waits for its JSON log line
// {"msg":"listening","addr":…}.
func start(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	p := &proc{cmd: cmd, output: &syncBuffer{}, done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout = p.output
	cmd.Stderr = io.MultiWriter(p.output, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done); pw.Close() }()
	t.Cleanup(func() { p.stop(t) })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
				sent = true
			}
		}
		// A line too long for the scanner must not leave the process
		// blocked writing its log.
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case <-p.done:
		t.Fatalf("%s exited early: %v\n%s", filepath.Base(bin), p.err, p.output.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s\n%s", filepath.Base(bin), p.output.String())
	}
	return p
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.cmd.Path, p.err)
		}
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("%s did not stop within 20s of SIGTERM", p.cmd.Path)
	}
}

// api is a JSON client with an optional bearer token or API key.
type api struct {
	t      *testing.T
	base   string
	token  string // Authorization: Bearer
	apiKey string // X-API-Key
}

func (a *api) do(method, path string, body any) (int, map[string]any, http.Header) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if a.apiKey != "" {
		req.Header.Set("X-API-Key", a.apiKey)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: %d answer is not a JSON object: %q", method, path, resp.StatusCode, raw)
		}
	}
	if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		a.t.Errorf("%s %s: %d answered as %q, want application/problem+json", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out, resp.Header
}

func (a *api) must(want int, method, path string, body any) map[string]any {
	a.t.Helper()
	status, out, _ := a.do(method, path, body)
	if status != want {
		a.t.Fatalf("%s %s = %d, want %d: %v", method, path, status, want, out)
	}
	return out
}

// badField expects a 400 naming field among its errors.
func (a *api) badField(field, method, path string, body any) {
	a.t.Helper()
	status, out, _ := a.do(method, path, body)
	if status != http.StatusBadRequest {
		a.t.Errorf("%s %s %v = %d, want 400 naming %s: %v", method, path, body, status, field, out)
		return
	}
	errs, _ := out["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field {
			return
		}
	}
	a.t.Errorf("%s %s %v: 400 does not name %s: %v", method, path, body, field, out)
}

func (a *api) as(token string) *api { return &api{t: a.t, base: a.base, token: token} }

// withKey is a client sending key as X-API-Key.
func (a *api) withKey(key string) *api { return &api{t: a.t, base: a.base, apiKey: key} }

func clientToken(t *testing.T, ward, realm, id, secret string) string {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret,
		TokenURL: ward + "/realms/" + realm + "/protocol/openid-connect/token"}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("client_credentials token for %s in %s: %v", id, realm, err)
	}
	return tok.AccessToken
}

func ids(t *testing.T, list map[string]any) []string {
	t.Helper()
	items, ok := list["items"].([]any)
	if !ok {
		t.Fatalf("list answer has no items: %v", list)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	slices.Sort(out)
	return out
}

func sortedIDs(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// startWard bootstraps organization acme in a fresh SQLite database, runs
// ward serve on loopback and returns it with an admin API client (the
// bootstrap's org admin client, role owner). env adds settings.
func startWard(t *testing.T, env ...string) (*proc, *api) {
	t.Helper()
	dataDir := t.TempDir()
	wardEnv := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dataDir,
		"WARD_DATA_DIR=" + dataDir,
		"WARD_DB=sqlite:" + filepath.Join(dataDir, "ward.db"),
		"WARD_LOG_FORMAT=json",
		"WARD_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	bootCmd := exec.Command(wardBin, "bootstrap", "--org", "acme", "--owner-email", "owner@acme.test", "--json")
	bootCmd.Env = wardEnv
	boot, err := bootCmd.Output()
	if err != nil {
		t.Fatalf("ward bootstrap: %v", err)
	}
	var bootOut struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(boot, &bootOut); err != nil {
		t.Fatalf("bootstrap printed %q: %v", boot, err)
	}
	ward := start(t, wardBin, append(wardEnv, env...), "serve", "--addr", "127.0.0.1:0")
	return ward, &api{t: t, base: ward.URL, token: clientToken(t, ward.URL, "console", bootOut.ClientID, bootOut.ClientSecret)}
}

// TestAssetsEndToEnd: an admin scripts a realm in Ward (attributes, groups,
// service accounts, a department policy); cmd/assets, trusting that realm,
// lets a news service account read news assets but not finance ones, all
// of them once it is in the admins group and has a new token; ACL grants
// and share links (use limit, expiry, revocation by an admin, counter) behave as
// CONTRACT §5 says; a token of another realm is refused.
func TestAssetsEndToEnd(t *testing.T) {
	ward, admin := startWard(t)

	// The realm, scripted over the admin API.
	const r = "/admin/v1/realms/media"
	admin.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "media", "display_name": "Media"})
	admin.must(201, "POST", r+"/attributes", map[string]any{"name": "admin", "type": "boolean"})
	admin.must(201, "POST", r+"/attributes", map[string]any{"name": "departments", "type": "string", "multi": true})
	newsDesk := admin.must(201, "POST", r+"/groups", map[string]any{"name": "news-desk", "attributes": map[string]any{"departments": []string{"news"}}})["id"].(string)
	admins := admin.must(201, "POST", r+"/groups", map[string]any{"name": "admins", "attributes": map[string]any{"admin": true}})["id"].(string)
	admin.must(201, "POST", r+"/groups", map[string]any{"name": "auditors"})
	serviceAccount := func(name string, groups ...string) (string, string) {
		body := map[string]any{"name": name, "kind": "service_account", "audience": []string{"assets"}}
		if len(groups) > 0 {
			body["groups"] = groups
			body["primary_group"] = groups[0]
		}
		sa := admin.must(201, "POST", r+"/clients", body)
		return sa["client_id"].(string), sa["client_secret"].(string)
	}
	newsID, newsSecret := serviceAccount("newsbot", newsDesk)
	chiefID, chiefSecret := serviceAccount("chief", admins)
	serverID, serverSecret := serviceAccount("assets-server")
	admin.must(201, "POST", r+"/policies", map[string]any{"name": "department", "resource_type": "asset", "actions": []string{"read", "write"},
		"condition": `subject.attributes.admin || resource.department in subject.attributes.departments`})
	admin.must(201, "POST", r+"/policies", map[string]any{"name": "create-in-own-department", "resource_type": "asset", "actions": []string{"create"},
		"condition": `subject.attributes.admin || resource.department in subject.attributes.departments`})

	admin.must(201, "POST", r+"/policies", map[string]any{"name": "admins-manage", "resource_type": "asset", "actions": []string{"manage"},
		"condition": `subject.attributes.admin`})

	// Another realm whose service account also asks for audience assets.
	admin.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "other"})
	other := admin.must(201, "POST", "/admin/v1/realms/other/clients", map[string]any{"name": "intruder", "kind": "service_account", "audience": []string{"assets"}})

	assetsEnv := []string{
		"PATH=" + os.Getenv("PATH"),
		"ASSETS_ADDR=127.0.0.1:0",
		"ASSETS_ISSUER=" + ward.URL + "/realms/media",
		"ASSETS_CLIENT_ID=" + serverID,
		"ASSETS_CLIENT_SECRET=" + serverSecret,
		"ASSETS_DB=sqlite:" + filepath.Join(t.TempDir(), "assets.db"),
	}
	assets := start(t, assetsBin, assetsEnv)
	anon := &api{t: t, base: assets.URL}
	newsTok := clientToken(t, ward.URL, "media", newsID, newsSecret)
	news := anon.as(newsTok)
	chiefTok := clientToken(t, ward.URL, "media", chiefID, chiefSecret)
	chief := anon.as(chiefTok)

	// Tokens: none, another realm's.
	if status, _, h := anon.do("GET", "/assets", nil); status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q, want 401 with a Bearer challenge", status, h.Get("WWW-Authenticate"))
	}
	intruder := anon.as(clientToken(t, ward.URL, "other", other["client_id"].(string), other["client_secret"].(string)))
	if status, _, h := intruder.do("GET", "/assets", nil); status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("a token of another realm: %d %q, want 401 invalid_token", status, h.Get("WWW-Authenticate"))
	}

	// Creating: a policy decides; the owner is the token's sub.
	newsOwn := news.must(201, "POST", "/assets", map[string]any{"name": "Morning brief", "department": "news"})
	if newsOwn["owner"] != newsID || newsOwn["department"] != "news" {
		t.Errorf("created asset = %v, want owner %s", newsOwn, newsID)
	}
	news.must(403, "POST", "/assets", map[string]any{"name": "Budget", "department": "finance"})
	news.badField("department", "POST", "/assets", map[string]any{"name": "No department"})
	news.badField("colour", "POST", "/assets", map[string]any{"name": "x", "department": "news", "colour": "red"})
	news.badField("name", "POST", "/assets", map[string]any{"name": 7, "department": "news"})
	raw := func(contentType string, body []byte) int {
		t.Helper()
		req, _ := http.NewRequest("POST", assets.URL+"/assets", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+newsTok)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := raw("text/plain", []byte(`{"name":"x","department":"news"}`)); status != 415 {
		t.Errorf("a text/plain body: %d, want 415", status)
	}
	if status := raw("application/json", []byte(`{"name":"`+strings.Repeat("x", 2<<20)+`","department":"news"}`)); status != 413 {
		t.Errorf("a 2 MiB body: %d, want 413", status)
	}
	if status := raw("application/json", []byte(`{"name":"x","department":"news"}{}`)); status != 400 {
		t.Errorf("two JSON objects: %d, want 400", status)
	}
	chiefNews := chief.must(201, "POST", "/assets", map[string]any{"name": "Election night", "department": "news"})["id"].(string)
	finance := chief.must(201, "POST", "/assets", map[string]any{"name": "Ledger", "department": "finance"})["id"].(string)

	// An expiring link, checked at the end (the rest runs meanwhile).
	expiring := chief.must(201, "POST", "/assets/"+finance+"/shares", map[string]any{"expires_in_seconds": 60})
	expiringURL := expiring["url"].(string)
	if !strings.HasPrefix(expiringURL, assets.URL+"/shares/") {
		t.Errorf("share url %q is not under %s/shares/", expiringURL, assets.URL)
	}
	openLink := func(url string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if status, got := openLink(expiringURL); status != 200 || got["id"] != finance {
		t.Errorf("a fresh link: %d %v, want 200 with the asset", status, got)
	}

	// The department policy: news yes, finance no; the list filters.
	if got := news.must(200, "GET", "/assets/"+chiefNews, nil); got["name"] != "Election night" {
		t.Errorf("news asset read = %v", got)
	}
	news.must(403, "GET", "/assets/"+finance, nil)
	news.must(404, "GET", "/assets/no-such-asset", nil)
	if got, want := ids(t, news.must(200, "GET", "/assets", nil)), sortedIDs(newsOwn["id"].(string), chiefNews); !slices.Equal(got, want) {
		t.Errorf("news lists %v, want %v", got, want)
	}
	if got := news.must(200, "PATCH", "/assets/"+chiefNews, map[string]any{"name": "Election night (final)"}); got["name"] != "Election night (final)" {
		t.Errorf("patch by policy = %v", got)
	}
	news.badField("title", "PATCH", "/assets/"+chiefNews, map[string]any{"title": "x"})
	// Moving an asset to a department is creating it there: newsbot may
	// write this news asset but not move it to finance, nor its own.
	news.must(403, "PATCH", "/assets/"+chiefNews, map[string]any{"department": "finance"})
	news.must(403, "PATCH", "/assets/"+newsOwn["id"].(string), map[string]any{"department": "finance"})
	news.must(403, "PATCH", "/assets/"+finance, map[string]any{"name": "Cooked books"})
	news.must(403, "DELETE", "/assets/"+chiefNews, nil) // the policy grants read and write only
	news.must(403, "PUT", "/assets/"+chiefNews+"/acl", map[string]any{"entries": []any{}})
	news.must(403, "POST", "/assets/"+chiefNews+"/shares", map[string]any{"expires_in_seconds": 60})

	// Ownership: moved to finance by an admin, newsbot's own asset is still
	// its own for every action, manage included; no policy allows that.
	ownID := newsOwn["id"].(string)
	chief.must(200, "PATCH", "/assets/"+ownID, map[string]any{"department": "finance"})
	news.must(200, "GET", "/assets/"+ownID, nil)
	if got := ids(t, news.must(200, "GET", "/assets", nil)); !slices.Contains(got, ownID) {
		t.Errorf("the owner's own asset is missing from its list: %v", got)
	}
	news.must(201, "POST", "/assets/"+ownID+"/shares", map[string]any{"expires_in_seconds": 60})
	news.must(200, "PUT", "/assets/"+ownID+"/acl", map[string]any{"entries": []any{}})

	// ACLs: a user grant, then a group grant; a grant of another group
	// gives nothing; READ does not give WRITE.
	acl := "/assets/" + finance + "/acl"
	chief.must(200, "PUT", acl, map[string]any{"entries": []any{map[string]any{"user": newsID, "permissions": []string{"READ"}}}})
	news.must(200, "GET", "/assets/"+finance, nil)
	news.must(403, "PATCH", "/assets/"+finance, map[string]any{"name": "Cooked books"})
	if got := ids(t, news.must(200, "GET", "/assets", nil)); !slices.Contains(got, finance) {
		t.Errorf("an ACL READ grant does not show the asset in the list: %v", got)
	}
	chief.must(200, "PUT", acl, map[string]any{"entries": []any{map[string]any{"group": "auditors", "permissions": []string{"READ", "WRITE"}}}})
	news.must(403, "GET", "/assets/"+finance, nil)
	got := chief.must(200, "PUT", acl, map[string]any{"entries": []any{map[string]any{"group": "news-desk", "permissions": []string{"WRITE", "READ"}}}})
	if e, _ := got["entries"].([]any); len(e) != 1 || fmt.Sprint(e[0].(map[string]any)["permissions"]) != "[READ WRITE]" {
		t.Errorf("stored ACL = %v", got)
	}
	news.must(200, "GET", "/assets/"+finance, nil)
	news.must(200, "PATCH", "/assets/"+finance, map[string]any{"department": "finance"})
	news.must(403, "DELETE", "/assets/"+finance, nil)
	news.must(403, "PUT", acl, map[string]any{"entries": []any{}}) // an ACL never grants manage
	chief.badField("entries[0]", "PUT", acl, map[string]any{"entries": []any{map[string]any{"user": "u", "group": "g", "permissions": []string{"READ"}}}})
	chief.badField("entries[0]", "PUT", acl, map[string]any{"entries": []any{map[string]any{"permissions": []string{"READ"}}}})
	chief.badField("entries[0].permissions", "PUT", acl, map[string]any{"entries": []any{map[string]any{"user": "u", "permissions": []string{}}}})
	chief.badField("entries[0].permissions[1]", "PUT", acl, map[string]any{"entries": []any{map[string]any{"user": "u", "permissions": []string{"READ", "MANAGE"}}}})
	chief.badField("entries", "PUT", acl, map[string]any{})
	chief.must(200, "PUT", acl, map[string]any{"entries": []any{}})
	news.must(403, "GET", "/assets/"+finance, nil)

	// Into the admins group: the old token still carries the old
	// attributes; a new one reads everything.
	admin.must(200, "PUT", r+"/clients/"+newsID+"/groups/"+admins, nil)
	news.must(403, "GET", "/assets/"+finance, nil)
	news = anon.as(clientToken(t, ward.URL, "media", newsID, newsSecret))
	news.must(200, "GET", "/assets/"+finance, nil)
	if got, want := ids(t, news.must(200, "GET", "/assets", nil)), sortedIDs(newsOwn["id"].(string), chiefNews, finance); !slices.Equal(got, want) {
		t.Errorf("as an admin, news lists %v, want %v", got, want)
	}

	// Share links: a use limit with a counter, revocation, unknown links.
	limited := chief.must(201, "POST", "/assets/"+finance+"/shares", map[string]any{"expires_in_seconds": 3600, "max_uses": 2})
	if limited["max_uses"] != float64(2) || limited["expires_at"] == nil || limited["id"] == nil {
		t.Errorf("share answer = %v", limited)
	}
	for i := 1; i <= 2; i++ {
		if status, got := openLink(limited["url"].(string)); status != 200 || got["id"] != finance {
			t.Errorf("open %d of a 2-use link: %d %v", i, status, got)
		}
	}
	if status, _ := openLink(limited["url"].(string)); status != 410 {
		t.Errorf("third open of a 2-use link: %d, want 410", status)
	}
	counter := chief.must(200, "GET", "/assets/"+finance+"/shares/"+limited["id"].(string), nil)
	if counter["uses"] != float64(2) || counter["url"] != nil {
		t.Errorf("share state = %v, want uses 2 and no url", counter)
	}
	revocable := chief.must(201, "POST", "/assets/"+finance+"/shares", map[string]any{"expires_in_seconds": 3600})
	if status, _ := openLink(revocable["url"].(string)); status != 200 {
		t.Errorf("an unlimited link before revocation: %d", status)
	}
	// Revoked by an admin who does not own the asset (the admins-manage
	// policy); newsbot is an admin by now.
	news.must(204, "DELETE", "/assets/"+finance+"/shares/"+revocable["id"].(string), nil)
	if status, _ := openLink(revocable["url"].(string)); status != 410 {
		t.Errorf("a revoked link: %d, want 410", status)
	}
	chief.must(404, "DELETE", "/assets/"+finance+"/shares/no-such-share", nil)
	if status, _ := openLink(assets.URL + "/shares/not-a-token"); status != 404 {
		t.Errorf("an unknown link: %d, want 404", status)
	}
	chief.badField("expires_in_seconds", "POST", "/assets/"+finance+"/shares", map[string]any{"expires_in_seconds": 0})
	chief.badField("expires_in_seconds", "POST", "/assets/"+finance+"/shares", map[string]any{"expires_in_seconds": 31 * 24 * 3600})
	chief.badField("max_uses", "POST", "/assets/"+finance+"/shares", map[string]any{"expires_in_seconds": 60, "max_uses": -1})

	// Deleting: the owner may; the asset and its links are gone.
	news.must(204, "DELETE", "/assets/"+newsOwn["id"].(string), nil)
	news.must(404, "GET", "/assets/"+newsOwn["id"].(string), nil)
	chief.must(204, "DELETE", "/assets/"+chiefNews, nil)

	// Expiry itself runs on the store's injected clock (TestStoreShares);
	// a used-up and a revoked link above show that a gone link is a 410.

	// Nothing secret in the asset server's logs.
	logs := assets.output.String()
	for name, secret := range map[string]string{"an access token": newsTok, "a share token": strings.TrimPrefix(expiringURL, assets.URL+"/shares/"),
		"the client secret": serverSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the assets server logged %s", name)
		}
	}
	if !strings.Contains(logs, `"route":"GET /shares/{token}"`) {
		t.Errorf("the access log lacks the share route pattern:\n%s", logs)
	}
	// Authenticated requests are logged with their subject.
	if !strings.Contains(logs, `"route":"GET /assets/{id}","status":200,"sub":"`+newsID+`"`) {
		t.Errorf("the access log does not name the subject of newsbot's reads:\n%s", logs)
	}
}
