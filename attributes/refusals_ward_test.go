package attributes_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestGuardReportsNetworkRefusals runs a Guard against a real Ward realm:
// requests it refuses by the realm's IP allow list become network.refused
// audit events in Ward (CONTRACT §7: a refusal is an audit event), with the
// address, "at": "guard", the request's method and path, the reporting
// resource server as actor and the refused caller as target; a request
// inside the list is not reported.
func TestGuardReportsNetworkRefusals(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) { testGuardReportsNetworkRefusals(t, oauthtest.NewOn(t, open)) })
	}
}

func testGuardReportsNetworkRefusals(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "media", true)
	svc, secret := env.NewClient(rf.ID, "assets-server", func(c *realm.Client) { c.Audience = []string{"assets"} })
	reader, readerSecret := env.NewClient(rf.ID, "reader", func(c *realm.Client) { c.Audience = []string{"assets"} })
	// Tokens first: from now on Ward itself refuses grants from 127.0.0.1.
	token := env.MustToken(rf.Name, reader.ClientID, readerSecret, nil)
	g, err := attributes.NewGuard(context.Background(), attributes.Config{
		Issuer: rf.Issuer, Audience: "assets",
		Client:         attributes.ClientCredentials{ID: svc.ClientID, Secret: secret},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		OnError:        func(err error) { t.Errorf("guard: %v", err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := env.System()
	if _, err := env.Service.SetIPAllowList(ctx, rf.Name, []string{"203.0.113.0/24"}); err != nil {
		t.Fatal(err)
	}
	if err := g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	get := func(path, from string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/assets/in", "203.0.113.9"); s != http.StatusOK {
		t.Fatalf("inside the list: %d, want 200", s)
	}
	if s := get("/assets/a%20b", "192.0.2.7"); s != http.StatusForbidden {
		t.Fatalf("outside the list: %d, want 403", s)
	}
	if s := get("/assets/v6", "2001:db8::7"); s != http.StatusForbidden {
		t.Fatalf("outside the list, IPv6: %d, want 403", s)
	}

	// The guard reports within about a second; wait at most 10 s.
	var events []realm.Event
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		page, err := env.Service.ListEvents(ctx, rf.Name, realm.EventFilter{Type: realm.EventNetworkRefused})
		if err != nil {
			t.Fatal(err)
		}
		if events = page.Items; len(events) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(events) != 2 {
		t.Errorf("%d network.refused events, want 2", len(events))
	}
	got := map[string]string{}
	for _, e := range events {
		got[fmt.Sprint(e.Details["path"])] = fmt.Sprintf("%s %s %s %s %v %v %v %v", e.ActorType, e.ActorID, e.TargetType, e.TargetID,
			e.Details["address"], e.Details["at"], e.Details["method"], e.Details["country"])
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(e.Details["refused_at"])); err != nil {
			t.Errorf("event %s: refused_at %v", e.ID, e.Details["refused_at"])
		}
	}
	want := map[string]string{
		"/assets/a%20b": "client assets-server client reader 192.0.2.7 guard GET <nil>",
		"/assets/v6":    "client assets-server client reader 2001:db8::7 guard GET <nil>",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("network.refused events:\n got %v\nwant %v", got, want)
	}
}
