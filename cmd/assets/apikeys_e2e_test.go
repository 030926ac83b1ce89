package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// wantProblem expects exactly the problem document {type, title, status,
// detail} (no other members).
func wantProblem(t *testing.T, what string, status int, got map[string]any, gotStatus int, typ, detail string) {
	t.Helper()
	want := map[string]any{"type": typ, "title": http.StatusText(status), "status": float64(status), "detail": detail}
	if gotStatus != status || !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %d %v, want %d %v", what, gotStatus, got, status, want)
	}
}

// forbidden expects the 403 a key gets for lacking permission.
func forbidden(t *testing.T, c *api, permission, method, path string, body any) {
	t.Helper()
	status, got, _ := c.do(method, path, body)
	wantProblem(t, method+" "+path+" without "+permission, 403, got, status,
		"urn:ward:problem:forbidden", "the API key lacks the permission "+permission)
}

// tokenRequests is how many requests Ward's token endpoint has answered,
// read from its Prometheus metrics.
func tokenRequests(t *testing.T, ward string) int {
	t.Helper()
	resp, err := http.Get(ward + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n, found := 0, false
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "ward_http_request_duration_seconds_count{") ||
			!strings.Contains(line, `route="/realms/:realm/protocol/openid-connect/token"`) {
			continue
		}
		v, err := strconv.Atoi(line[strings.LastIndexByte(line, ' ')+1:])
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		n += v
		found = true
	}
	if !found {
		t.Fatalf("Ward's metrics have no token endpoint series:\n%s", raw)
	}
	return n
}

// exchange asks Ward itself to exchange key, as the guard does (RFC 8693,
// client_secret_basic), and returns the status and the OAuth answer.
func exchange(t *testing.T, ward, realm, clientID, secret, key string) (int, map[string]any) {
	t.Helper()
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {key},
		"subject_token_type": {"urn:ward:params:oauth:token-type:api-key"},
		"audience":           {"assets"},
	}
	req, err := http.NewRequest("POST", ward+"/realms/"+realm+"/protocol/openid-connect/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("token endpoint answered %d, not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// TestAssetsAPIKeys: an admin defines a realm's permission catalog and API
// keys over Ward's admin API; cmd/assets, configured with a confidential
// service account of the realm, accepts the keys on its endpoints (as
// X-API-Key and as Authorization: Bearer ward_…) and allows each exactly
// what its permissions name: an asset a key creates is owned by the key's
// id, yet ownership and ACLs give a key nothing. A string that is not a
// Ward key is refused without asking Ward. A deactivated key is refused by
// Ward at once and by the running assets server once its cached token is
// gone; a reactivated one works again.
//
// The guard keeps a key's token for at most 60 s. Rather than wait for
// that, the assets server runs with ASSETS_API_KEY_CACHE_SIZE=1, so that
// using one key evicts the token of the previous one: the next request
// with that key is exchanged again, exactly as after the token's expiry.
// The expiry itself runs on the guard's injected clock in the attributes
// package's tests (TestGuardAPIKeyRefresh, TestGuardAPIKeyLifetimes).
func TestAssetsAPIKeys(t *testing.T) {
	ward, admin := startWard(t)

	const r = "/admin/v1/realms/media"
	admin.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "media"})
	for _, action := range []string{"create", "read", "write", "delete", "manage"} {
		admin.must(201, "POST", r+"/permissions", map[string]any{"name": "asset:" + action, "description": action + " assets"})
	}
	admin.badField("permissions[1]", "POST", r+"/api-keys", map[string]any{"description": "typo", "permissions": []string{"asset:read", "asset:raed"}})
	newKey := func(description string, permissions ...string) (id, key string) {
		t.Helper()
		k := admin.must(201, "POST", r+"/api-keys", map[string]any{"description": description, "permissions": permissions})
		id, _ = k["id"].(string)
		key, _ = k["key"].(string)
		if id == "" || !strings.HasPrefix(key, "ward_") || k["active"] != true || !reflect.DeepEqual(k["permissions"], toAny(sortedIDs(permissions...))) {
			t.Fatalf("created key = %v", k)
		}
		return id, key
	}
	writerID, writerKey := newKey("ingest job", "asset:create", "asset:read", "asset:write")
	creatorID, creatorKey := newKey("uploader", "asset:create")
	cleanerID, cleanerKey := newKey("cleanup job", "asset:read", "asset:delete", "asset:manage")

	// A person-like subject beside the keys: a service account in an
	// admins group, which a policy lets do anything.
	admin.must(201, "POST", r+"/attributes", map[string]any{"name": "admin", "type": "boolean"})
	admins := admin.must(201, "POST", r+"/groups", map[string]any{"name": "admins", "attributes": map[string]any{"admin": true}})["id"].(string)
	admin.must(201, "POST", r+"/policies", map[string]any{"name": "admins", "resource_type": "asset",
		"actions": []string{"create", "read", "write", "delete", "manage"}, "condition": `subject.attributes.admin`})
	serviceAccount := func(name string, groups ...string) (string, string) {
		t.Helper()
		body := map[string]any{"name": name, "kind": "service_account", "audience": []string{"assets"}}
		if len(groups) > 0 {
			body["groups"], body["primary_group"] = groups, groups[0]
		}
		sa := admin.must(201, "POST", r+"/clients", body)
		return sa["client_id"].(string), sa["client_secret"].(string)
	}
	chiefID, chiefSecret := serviceAccount("chief", admins)
	// The assets server's own client: it fetches policies and exchanges
	// keys with these credentials.
	serverID, serverSecret := serviceAccount("assets-server")

	assets := start(t, assetsBin, []string{
		"PATH=" + os.Getenv("PATH"),
		"ASSETS_ADDR=127.0.0.1:0",
		"ASSETS_ISSUER=" + ward.URL + "/realms/media",
		"ASSETS_CLIENT_ID=" + serverID,
		"ASSETS_CLIENT_SECRET=" + serverSecret,
		"ASSETS_DB=sqlite:" + filepath.Join(t.TempDir(), "assets.db"),
		"ASSETS_API_KEY_CACHE_SIZE=1",
	})
	anon := &api{t: t, base: assets.URL}
	chief := anon.as(clientToken(t, ward.URL, "media", chiefID, chiefSecret))
	writer, creator, cleaner := anon.withKey(writerKey), anon.withKey(creatorKey), anon.withKey(cleanerKey)

	// Creating with a key: the owner is the key's id.
	brief := writer.must(201, "POST", "/assets", map[string]any{"name": "Morning brief", "department": "news"})
	briefID := brief["id"].(string)
	if brief["owner"] != writerID {
		t.Errorf("asset created with a key is owned by %v, want the key's id %s", brief["owner"], writerID)
	}
	if got := writer.must(200, "GET", "/assets/"+briefID, nil); got["name"] != "Morning brief" || got["owner"] != writerID {
		t.Errorf("read with a key = %v", got)
	}
	ledgerID := chief.must(201, "POST", "/assets", map[string]any{"name": "Ledger", "department": "finance"})["id"].(string)
	// asset:read reads every asset, whoever owns it.
	writer.must(200, "GET", "/assets/"+ledgerID, nil)
	if got, want := ids(t, writer.must(200, "GET", "/assets", nil)), sortedIDs(briefID, ledgerID); !slices.Equal(got, want) {
		t.Errorf("a key with asset:read lists %v, want %v", got, want)
	}
	if got := writer.must(200, "PATCH", "/assets/"+ledgerID, map[string]any{"name": "Ledger 2026", "department": "archive"}); got["department"] != "archive" {
		t.Errorf("patch with asset:write and asset:create = %v", got)
	}
	writer.must(404, "GET", "/assets/no-such-asset", nil)
	writer.badField("department", "POST", "/assets", map[string]any{"name": "No department"})

	// What the permissions do not name is refused, even on the key's own
	// asset: the owner rule is for people and service accounts.
	forbidden(t, writer, "asset:delete", "DELETE", "/assets/"+briefID, nil)
	forbidden(t, writer, "asset:manage", "PUT", "/assets/"+briefID+"/acl", map[string]any{"entries": []any{}})
	forbidden(t, writer, "asset:manage", "POST", "/assets/"+briefID+"/shares", map[string]any{"expires_in_seconds": 60})

	// A key that may only create: it cannot read back what it created, and
	// its list is empty; an ACL naming its id grants it nothing either.
	upload := creator.must(201, "POST", "/assets", map[string]any{"name": "Upload", "department": "news"})
	uploadID := upload["id"].(string)
	if upload["owner"] != creatorID {
		t.Errorf("upload owner = %v, want %s", upload["owner"], creatorID)
	}
	forbidden(t, creator, "asset:read", "GET", "/assets/"+uploadID, nil)
	forbidden(t, creator, "asset:write", "PATCH", "/assets/"+uploadID, map[string]any{"name": "Renamed"})
	forbidden(t, creator, "asset:delete", "DELETE", "/assets/"+uploadID, nil)
	if got := creator.must(200, "GET", "/assets", nil); !reflect.DeepEqual(got, map[string]any{"items": []any{}}) {
		t.Errorf("a key without asset:read lists %v, want no items", got)
	}
	chief.must(200, "PUT", "/assets/"+uploadID+"/acl", map[string]any{"entries": []any{
		map[string]any{"user": creatorID, "permissions": []string{"READ", "WRITE", "DELETE"}}}})
	forbidden(t, creator, "asset:read", "GET", "/assets/"+uploadID, nil)
	// The service account still decides by policy; the key's asset is an
	// asset like any other to it.
	if got := chief.must(200, "GET", "/assets/"+uploadID, nil); got["owner"] != creatorID {
		t.Errorf("the key's asset as the chief sees it = %v", got)
	}

	// Authorization: Bearer ward_… is the same key.
	bearer := anon.as(cleanerKey)
	if got, want := ids(t, bearer.must(200, "GET", "/assets", nil)), sortedIDs(briefID, ledgerID, uploadID); !slices.Equal(got, want) {
		t.Errorf("the cleanup key (Bearer) lists %v, want %v", got, want)
	}
	share := bearer.must(201, "POST", "/assets/"+briefID+"/shares", map[string]any{"expires_in_seconds": 60})
	if share["created_by"] != cleanerID {
		t.Errorf("share created with a key = %v, want created_by %s", share, cleanerID)
	}
	forbidden(t, bearer, "asset:create", "POST", "/assets", map[string]any{"name": "x", "department": "news"})
	forbidden(t, bearer, "asset:write", "PATCH", "/assets/"+briefID, map[string]any{"name": "x"})
	cleaner.must(204, "DELETE", "/assets/"+uploadID, nil)
	cleaner.must(404, "GET", "/assets/"+uploadID, nil)

	// Strings that are not Ward keys: 401 saying so, and Ward is not asked.
	before := tokenRequests(t, ward.URL)
	invalid := func(what string, header, value string, detail string) {
		t.Helper()
		req, _ := http.NewRequest("GET", assets.URL+"/assets", nil)
		req.Header.Set(header, value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&got)
		wantProblem(t, what, 401, got, resp.StatusCode, "urn:ward:problem:unauthenticated", detail)
		if h := resp.Header.Get("WWW-Authenticate"); h != `Bearer realm="assets", error="invalid_token"` {
			t.Errorf("%s: WWW-Authenticate %q", what, h)
		}
	}
	invalid("a short key", "X-API-Key", "ward_short", "the API key is not a Ward API key")
	invalid("a key with a stray character", "X-API-Key", writerKey[:len(writerKey)-1]+"!", "the API key is not a Ward API key")
	invalid("a Bearer key with a stray character", "Authorization", "Bearer "+writerKey+"-", "the API key is not a Ward API key")
	invalid("anything else as X-API-Key", "X-API-Key", "let-me-in", "the API key is not a Ward API key")
	if after := tokenRequests(t, ward.URL); after != before {
		t.Errorf("malformed keys reached Ward's token endpoint: %d requests, want none", after-before)
	}
	// A well-formed key Ward does not know is refused by Ward.
	unknown := "ward_" + strings.Repeat("A1b2", 11)
	status, got, _ := anon.withKey(unknown).do("GET", "/assets", nil)
	wantProblem(t, "an unknown key", 401, got, status, "urn:ward:problem:unauthenticated", "the API key was refused: API key is unknown")

	// Deactivation. The writer's token is cached now (a request just
	// exchanged it: the cache holds one key), so the running server goes
	// on accepting it for the rest of that token's life (≤ 60 s); Ward
	// refuses any new exchange at once.
	writer.must(200, "GET", "/assets/"+briefID, nil)
	if got := admin.must(200, "PATCH", r+"/api-keys/"+writerID, map[string]any{"active": false}); got["active"] != false || got["key"] != nil {
		t.Errorf("deactivated key = %v", got)
	}
	if status, got := exchange(t, ward.URL, "media", serverID, serverSecret, writerKey); status != 400 ||
		got["error"] != "invalid_grant" || got["error_description"] != "API key is deactivated" {
		t.Errorf("Ward exchanging a deactivated key: %d %v, want 400 invalid_grant \"API key is deactivated\"", status, got)
	}
	writer.must(200, "GET", "/assets/"+briefID, nil)
	// Another key takes the writer's place in the cache, as the writer's
	// token expiring would: the next request exchanges again, and Ward's
	// refusal is the caller's 401.
	cleaner.must(200, "GET", "/assets/"+briefID, nil)
	status, got, h := writer.do("GET", "/assets/"+briefID, nil)
	wantProblem(t, "a deactivated key", 401, got, status, "urn:ward:problem:unauthenticated", "the API key was refused: API key is deactivated")
	if h.Get("WWW-Authenticate") != `Bearer realm="assets", error="invalid_token"` {
		t.Errorf("a deactivated key: WWW-Authenticate %q", h.Get("WWW-Authenticate"))
	}
	status, got, _ = writer.do("POST", "/assets", map[string]any{"name": "x", "department": "news"})
	wantProblem(t, "a deactivated key creating", 401, got, status, "urn:ward:problem:unauthenticated", "the API key was refused: API key is deactivated")
	// The other keys are unaffected.
	creator.must(201, "POST", "/assets", map[string]any{"name": "Second upload", "department": "news"})

	// Reactivated in bulk, it works again once its refusal has left the
	// cache (again by another key taking its place).
	if got := admin.must(200, "POST", r+"/api-keys:bulk", map[string]any{"ids": []string{writerID}, "active": true}); got["updated"] != float64(1) {
		t.Errorf("bulk reactivation = %v", got)
	}
	cleaner.must(200, "GET", "/assets/"+briefID, nil)
	writer.must(200, "GET", "/assets/"+briefID, nil)

	// Ward kept the use, to the minute; it never shows the key again.
	if got := admin.must(200, "GET", r+"/api-keys/"+writerID, nil); got["last_used_at"] == nil || got["key"] != nil || got["active"] != true {
		t.Errorf("the writer key as Ward shows it = %v", got)
	}

	// The assets server logs each key's id as the subject, never a key.
	logs := assets.output.String()
	for name, secret := range map[string]string{"the writer key": writerKey, "the creator key": creatorKey,
		"the cleanup key": cleanerKey, "the unknown key": unknown, "the client secret": serverSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the assets server logged %s", name)
		}
	}
	if !strings.Contains(logs, `"route":"POST /assets","status":201,"sub":"`+writerID+`"`) {
		t.Errorf("the access log does not name the writer key's id as the subject:\n%s", logs)
	}
	if logs := ward.output.String(); strings.Contains(logs, writerKey) || strings.Contains(logs, cleanerKey) {
		t.Errorf("Ward logged an API key")
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
