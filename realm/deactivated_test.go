package realm_test

import (
	"slices"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// TestDeactivatedAPIKeysBounded: the policy document lists the keys
// deactivated within the window, sorted; beyond its bound it lists the most
// recent and says until when every temporary key must be refused, which
// covers the keys left out (fail closed).
func TestDeactivatedAPIKeysBounded(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		r := e.realm("prod")
		if _, err := e.svc.CreatePermission(e.admin, "prod", realm.PermissionInput{Name: "asset:read"}); err != nil {
			t.Fatal(err)
		}
		var keys []*realm.NewAPIKeyResult
		var at []time.Time
		for range 3 {
			k, err := e.svc.CreateAPIKey(e.admin, "prod", realm.APIKeyInput{Description: "k", Permissions: []string{"asset:read"}})
			if err != nil {
				t.Fatal(err)
			}
			e.now = e.now.Add(time.Minute)
			if _, err := e.svc.SetAPIKeysActive(e.admin, "prod", []string{k.ID}, false); err != nil {
				t.Fatal(err)
			}
			keys, at = append(keys, k), append(at, e.now)
		}
		all := []string{keys[0].ID, keys[1].ID, keys[2].ID}
		slices.Sort(all)
		got, err := e.svc.DeactivatedAPIKeys(e.sys, r.ID)
		if err != nil || !slices.Equal(got.IDs, all) || got.MintedUntil != nil {
			t.Fatalf("within the bound: %v %v, %v; want %v and no cut-off", got.IDs, got.MintedUntil, err, all)
		}
		realm.SetDeactivatedKeysListed(e.svc, 2)
		got, err = e.svc.DeactivatedAPIKeys(e.sys, r.ID)
		newest := []string{keys[1].ID, keys[2].ID}
		slices.Sort(newest)
		if err != nil || !slices.Equal(got.IDs, newest) || got.MintedUntil == nil || !got.MintedUntil.Equal(at[0]) {
			t.Fatalf("over the bound: %v until %v, %v; want %v until %v", got.IDs, got.MintedUntil, err, newest, at[0])
		}
		// Past the window, none.
		e.now = e.now.Add(realm.DeactivatedKeysWindow + time.Second)
		if got, err = e.svc.DeactivatedAPIKeys(e.sys, r.ID); err != nil || len(got.IDs) != 0 || got.MintedUntil != nil {
			t.Fatalf("after the window: %v %v, %v", got.IDs, got.MintedUntil, err)
		}
	})
}
