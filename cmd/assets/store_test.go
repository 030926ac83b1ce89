package main

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTestStore(t *testing.T, clock func() time.Time) *Store {
	t.Helper()
	s, err := OpenStore("sqlite:"+filepath.Join(t.TempDir(), "assets.db"), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStoreACL: an ACL grants a permission to a user or a group; replacing
// it replaces every entry; deleting the asset takes its ACL along.
func TestStoreACL(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, nil)
	a, err := s.CreateAsset(ctx, "Ledger", "finance", "/", "owner-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetACL(ctx, a.ID, []ACLEntry{{Kind: "user", Principal: "u-1", Permissions: "READ,WRITE"},
		{Kind: "group", Principal: "Auditors", Permissions: "READ"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sub    string
		groups []string
		perm   string
		want   bool
	}{
		{"u-1", nil, PermRead, true},
		{"u-1", nil, PermWrite, true},
		{"u-1", nil, PermDelete, false},
		{"u-2", []string{"Auditors"}, PermRead, true},
		{"u-2", []string{"Auditors"}, PermWrite, false},
		{"u-2", []string{"Editors"}, PermRead, false},
		{"u-2", nil, PermRead, false},
		{"u-1", nil, "", false},
	} {
		got, err := s.Granted(ctx, a.ID, c.sub, c.groups, c.perm)
		if err != nil || got != c.want {
			t.Errorf("Granted(%s, %v, %q) = %v, %v; want %v", c.sub, c.groups, c.perm, got, err, c.want)
		}
	}
	if err := s.SetACL(ctx, a.ID, []ACLEntry{{Kind: "group", Principal: "Editors", Permissions: "WRITE"}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Granted(ctx, a.ID, "u-1", nil, PermRead); ok {
		t.Error("an entry survived replacing the ACL")
	}
	if err := s.SetACL(ctx, "nope", nil); !errors.Is(err, errNotFound) {
		t.Errorf("SetACL of an unknown asset = %v", err)
	}
	if err := s.DeleteAsset(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if entries, _ := s.ACL(ctx, a.ID); len(entries) != 0 {
		t.Errorf("ACL entries left after deleting the asset: %v", entries)
	}
}

// TestStoreShares: a link opens its asset until it expires, runs out of
// uses or is revoked; concurrent opens never exceed the use limit.
func TestStoreShares(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := openTestStore(t, clock)
	a, _ := s.CreateAsset(ctx, "Deck", "news", "/", "o")

	sh, token, err := s.CreateShare(ctx, a.ID, "o", time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.OpenShare(ctx, token); err != nil || got.ID != a.ID {
		t.Fatalf("open: %v, %v", got, err)
	}
	if _, err := s.OpenShare(ctx, token+"x"); !errors.Is(err, errNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	advance(2 * time.Hour)
	if _, err := s.OpenShare(ctx, token); !errors.Is(err, errGone) {
		t.Errorf("expired link: %v, want gone", err)
	}

	limited, token2, _ := s.CreateShare(ctx, a.ID, "o", time.Hour, 5)
	var wg sync.WaitGroup
	var opened sync.Map
	for i := range 20 {
		wg.Go(func() {
			if _, err := s.OpenShare(ctx, token2); err == nil {
				opened.Store(i, true)
			}
		})
	}
	wg.Wait()
	n := 0
	opened.Range(func(any, any) bool { n++; return true })
	got, _ := s.GetShare(ctx, a.ID, limited.ID)
	if n != 5 || got.Uses != 5 {
		t.Errorf("20 concurrent opens of a 5-use link: %d opened, counter %d", n, got.Uses)
	}

	_, token3, _ := s.CreateShare(ctx, a.ID, "o", time.Hour, 0)
	if err := s.RevokeShare(ctx, a.ID, sh.ID); err != nil {
		t.Fatal(err)
	}
	other, _, _ := s.CreateShare(ctx, a.ID, "o", time.Hour, 0)
	if err := s.RevokeShare(ctx, "another-asset", other.ID); !errors.Is(err, errNotFound) {
		t.Errorf("revoking through another asset: %v", err)
	}
	if _, err := s.OpenShare(ctx, token3); err != nil {
		t.Errorf("a link not revoked stopped working: %v", err)
	}
}

// TestStoreUpdateAssetChanged: an update applies to the asset as its
// permission check saw it; if what a decision reads of it (name,
// department, owner, path) changed in between, nothing is written.
func TestStoreUpdateAssetChanged(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, nil)
	a, err := s.CreateAsset(ctx, "Banner", "marketing", "/marketing/banner.png", "k1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Path != "/marketing/banner.png" {
		t.Fatalf("path %q", a.Path)
	}
	checked := *a
	moved, err := s.UpdateAsset(ctx, a, "", "", "/finance/banner.png")
	if err != nil || moved.Path != "/finance/banner.png" || moved.Name != "Banner" {
		t.Fatalf("move: %+v, %v", moved, err)
	}
	// A second change decided on the asset as it was before the move.
	if _, err := s.UpdateAsset(ctx, &checked, "Renamed", "", ""); !errors.Is(err, errChanged) {
		t.Fatalf("update decided on a stale asset: %v, want errChanged", err)
	}
	got, err := s.GetAsset(ctx, a.ID)
	if err != nil || got.Name != "Banner" || got.Path != "/finance/banner.png" {
		t.Fatalf("after the refused update: %+v, %v", got, err)
	}
	if _, err := s.UpdateAsset(ctx, got, "Renamed", "", ""); err != nil {
		t.Fatalf("update decided on the current asset: %v", err)
	}
}
