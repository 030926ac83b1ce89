package realm_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// supportCtx is a support principal of e's org holding grant g.
func (e *env) supportCtx(jti, reason string) context.Context {
	return realm.WithPrincipal(context.Background(), realm.Principal{OrgID: e.orgID, Role: realm.RoleSupport,
		ActorType: realm.ActorSupport, ActorID: jti, Reason: reason})
}

// TestSupportAccessSwitch: only owners read and switch support access; on
// with no end is 24 h, an end in the past or past 7 days is a 400 naming
// until that changes nothing; off switches it off; each switch is an event.
func TestSupportAccessSwitch(t *testing.T) { eachBackend(t, testSupportAccessSwitch) }

func testSupportAccessSwitch(t *testing.T, open opener) {
	e := newEnv(t, open)
	for _, ctx := range []context.Context{e.admin, e.viewer} {
		if _, err := e.svc.GetSupportAccess(ctx); !errors.Is(err, realm.ErrForbidden) {
			t.Errorf("GetSupportAccess as non-owner = %v, want ErrForbidden", err)
		}
		if _, err := e.svc.SetSupportAccess(ctx, realm.SupportAccessInput{Enabled: ptr(true)}); !errors.Is(err, realm.ErrForbidden) {
			t.Errorf("SetSupportAccess as non-owner = %v, want ErrForbidden", err)
		}
	}
	v, err := e.svc.GetSupportAccess(e.owner)
	if err != nil {
		t.Fatal(err)
	}
	if v.Enabled || v.Until != nil || v.UpdatedAt != nil {
		t.Errorf("never switched: %+v", v)
	}

	before := e.rows()
	now := e.now
	for _, tc := range []struct {
		name string
		in   realm.SupportAccessInput
		want string
	}{
		{"past", realm.SupportAccessInput{Enabled: ptr(true), Until: ptr(now.Add(-time.Second))}, "until"},
		{"now", realm.SupportAccessInput{Enabled: ptr(true), Until: ptr(now)}, "until"},
		{"too far", realm.SupportAccessInput{Enabled: ptr(true), Until: ptr(now.Add(7*24*time.Hour + time.Second))}, "until"},
		{"until when off", realm.SupportAccessInput{Enabled: ptr(false), Until: ptr(now.Add(time.Hour))}, "until"},
		{"no enabled", realm.SupportAccessInput{}, "enabled"},
	} {
		_, err := e.svc.SetSupportAccess(e.owner, tc.in)
		var verr *realm.ValidationError
		if !errors.As(err, &verr) || verr.Fields[0].Field != tc.want {
			t.Errorf("%s: %v, want a validation error naming %s", tc.name, err, tc.want)
		}
	}
	if after := e.rows(); !reflect.DeepEqual(before, after) {
		t.Errorf("refused switches changed rows: %v → %v", before, after)
	}

	// On, default end.
	v, err = e.svc.SetSupportAccess(e.owner, realm.SupportAccessInput{Enabled: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Enabled || v.Until == nil || !v.Until.Equal(now.Add(24*time.Hour)) || v.UpdatedBy != "member:"+e.boot.Owner.UserID {
		t.Errorf("on by default: %+v", v)
	}
	enabledAt := *v.EnabledAt
	// Exactly 7 days is allowed, and moving the end keeps EnabledAt.
	e.now = e.now.Add(time.Minute)
	v, err = e.svc.SetSupportAccess(e.owner, realm.SupportAccessInput{Enabled: ptr(true), Until: ptr(e.now.Add(7 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if !v.EnabledAt.Equal(enabledAt) || !v.Until.Equal(e.now.Add(7*24*time.Hour)) {
		t.Errorf("moving the end: %+v", v)
	}
	if err := e.svc.SupportAllowed(context.Background(), e.orgID, enabledAt); err != nil {
		t.Errorf("SupportAllowed while on = %v", err)
	}
	if until, err := e.svc.SupportAccessUntil(e.viewer); err != nil || until == nil {
		t.Errorf("SupportAccessUntil (viewer) while on = %v, %v", until, err)
	}

	// Off.
	v, err = e.svc.SetSupportAccess(e.owner, realm.SupportAccessInput{Enabled: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if v.Enabled || v.Until != nil {
		t.Errorf("off: %+v", v)
	}
	if err := e.svc.SupportAllowed(context.Background(), e.orgID, enabledAt); !errors.Is(err, realm.ErrSupportAccessOff) {
		t.Errorf("SupportAllowed after off = %v", err)
	}
	// On again: the earlier grant stays dead.
	e.now = e.now.Add(time.Minute)
	v, err = e.svc.SetSupportAccess(e.owner, realm.SupportAccessInput{Enabled: ptr(true), Until: ptr(e.now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SupportAllowed(context.Background(), e.orgID, enabledAt); !errors.Is(err, realm.ErrSupportAccessOff) {
		t.Errorf("SupportAllowed of an earlier grant after on again = %v", err)
	}
	if err := e.svc.SupportAllowed(context.Background(), e.orgID, *v.EnabledAt); err != nil {
		t.Errorf("SupportAllowed of the new grant = %v", err)
	}
	// Expired: the end passing switches it off.
	e.now = v.Until.Add(0)
	if err := e.svc.SupportAllowed(context.Background(), e.orgID, *v.EnabledAt); !errors.Is(err, realm.ErrSupportAccessOff) {
		t.Errorf("SupportAllowed at the end = %v", err)
	}
	if g, err := e.svc.GetSupportAccess(e.owner); err != nil || g.Enabled {
		t.Errorf("GetSupportAccess at the end = %+v, %v", g, err)
	}
	ev, err := e.svc.ListEvents(e.owner, "", realm.EventFilter{Type: realm.EventOrgSupportAccessEnabled})
	if err != nil || len(ev.Items) != 3 {
		t.Errorf("enabled events: %d, %v", len(ev.Items), err)
	}
	ev, err = e.svc.ListEvents(e.owner, "", realm.EventFilter{Type: realm.EventOrgSupportAccessDisabled})
	if err != nil || len(ev.Items) != 1 {
		t.Errorf("disabled events: %d, %v", len(ev.Items), err)
	}
}

// TestSupportGrantAndRole: GrantSupport only while on (reason and ttl
// checked; the token ends by the access's end); the support role reads
// like a viewer and writes nothing; its calls are recorded with its reason.
func TestSupportGrantAndRole(t *testing.T) { eachBackend(t, testSupportGrantAndRole) }

func testSupportGrantAndRole(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	if _, err := e.svc.GrantSupport(e.sys, "acme", "ticket 42", 0); !errors.Is(err, realm.ErrSupportNotAllowed) {
		t.Errorf("GrantSupport while off = %v", err)
	}
	if _, err := e.svc.GrantSupport(e.sys, "nope", "ticket 42", 0); !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("GrantSupport of an unknown org = %v", err)
	}
	if _, err := e.svc.GrantSupport(e.owner, "acme", "ticket 42", 0); !errors.Is(err, realm.ErrForbidden) {
		t.Errorf("GrantSupport by an owner = %v", err)
	}
	v, err := e.svc.SetSupportAccess(e.owner, realm.SupportAccessInput{Enabled: ptr(true), Until: ptr(e.now.Add(90 * time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		reason string
		ttl    time.Duration
		field  string
	}{{"  ", 0, "reason"}, {"a\nb", 0, "reason"}, {"ok", time.Second, "ttl"}, {"ok", -time.Hour, "ttl"}, {"ok", 8 * 24 * time.Hour, "ttl"}} {
		_, err := e.svc.GrantSupport(e.sys, "acme", tc.reason, tc.ttl)
		wantField(t, err, tc.field)
	}
	g, err := e.svc.GrantSupport(e.sys, "acme", "ticket 42", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !g.ExpiresAt.Equal(e.now.Add(time.Hour).Truncate(time.Second)) || !g.EnabledAt.Equal(*v.EnabledAt) || g.Org.ID != e.orgID {
		t.Errorf("grant: %+v", g)
	}
	long, err := e.svc.GrantSupport(e.sys, "acme", "ticket 42", 5*time.Hour)
	if err != nil || !long.ExpiresAt.Equal(v.Until.Truncate(time.Second)) {
		t.Errorf("a ttl past the end: %+v, %v (end %v)", long, err, v.Until)
	}

	sup := e.supportCtx(g.ID, "ticket 42")
	if _, err := e.svc.ListRealms(sup, realm.ListOptions{}); err != nil {
		t.Errorf("support reading realms: %v", err)
	}
	if _, err := e.svc.CreateRealm(sup, realm.RealmInput{Name: "evil"}); !errors.Is(err, realm.ErrForbidden) {
		t.Errorf("support creating a realm = %v, want ErrForbidden", err)
	}
	if _, err := e.svc.GetSupportAccess(sup); !errors.Is(err, realm.ErrForbidden) {
		t.Errorf("support reading the switch = %v, want ErrForbidden", err)
	}
	if _, err := e.svc.SetSupportAccess(sup, realm.SupportAccessInput{Enabled: ptr(true)}); !errors.Is(err, realm.ErrForbidden) {
		t.Errorf("support switching = %v, want ErrForbidden", err)
	}
	// Role support on anyone but a support principal acts as nothing.
	fake := realm.WithPrincipal(context.Background(), realm.Principal{OrgID: e.orgID, Role: realm.RoleSupport, ActorType: "member", ActorID: "x"})
	if _, err := e.svc.ListRealms(fake, realm.ListOptions{}); !errors.Is(err, realm.ErrForbidden) {
		t.Errorf("a member with role support = %v, want ErrForbidden", err)
	}
	if err := e.svc.RecordSupportCall(e.viewer, "GET", "/x", "/x"); !errors.Is(err, realm.ErrForbidden) {
		t.Errorf("RecordSupportCall as a viewer = %v", err)
	}
	if err := e.svc.RecordSupportCall(sup, "GET", "/admin/v1/realms", "/admin/v1/realms"); err != nil {
		t.Fatal(err)
	}
	ev, err := e.svc.ListEvents(e.viewer, "", realm.EventFilter{Type: realm.EventSupportCall})
	if err != nil || len(ev.Items) != 1 {
		t.Fatalf("support.call events: %+v, %v", ev.Items, err)
	}
	c := ev.Items[0]
	if c.ActorType != "support" || c.ActorID != g.ID || c.Details["reason"] != "ticket 42" || c.Details["method"] != "GET" {
		t.Errorf("support.call event: %+v", c)
	}
	ev, err = e.svc.ListEvents(e.viewer, "", realm.EventFilter{Type: realm.EventSupportTokenIssued})
	if err != nil || len(ev.Items) != 2 || ev.Items[0].Details["reason"] != "ticket 42" {
		t.Errorf("support.token_issued events: %+v, %v", ev.Items, err)
	}
}
