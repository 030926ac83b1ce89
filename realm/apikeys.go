package realm

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// APIKey is a long-lived credential of a headless caller (CONTRACT §6): a
// backend sends it to a resource server, which exchanges it at the token
// endpoint for a short access token carrying Permissions. Ward keeps only
// the SHA-256 hash of the key; keys are deactivated, never deleted, so the
// audit trail keeps naming them.
type APIKey struct {
	ID          string
	RealmID     string
	Prefix      string // "ward_" and the key's first characters: how people recognise it
	Hash        []byte
	Description string
	Permissions []string // sorted
	Active      bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExpiresAt   *time.Time
	// LastUsedAt is the minute of the last exchange (CONTRACT §6: kept to
	// the minute, so a busy key costs one write a minute).
	LastUsedAt *time.Time
}

// APIKeyFilter filters the list of keys.
type APIKeyFilter struct {
	ListOptions
	Active *bool
}

// APIKeyPrefix starts every API key; resource servers tell keys from
// other credentials by it.
const APIKeyPrefix = "ward_"

// apiKeyRandomLen is the base62 characters after the prefix: 43 of them
// hold 256 random bits (62^43 > 2^256).
const apiKeyRandomLen = 43

// apiKeyShownLen is how much of the random part the prefix shows: enough to
// tell keys apart in a list, far too little to guess the rest.
const apiKeyShownLen = 8

const base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewAPIKey returns a new key ("ward_" + 43 base62 characters from 256
// random bits), its prefix and its stored hash.
func NewAPIKey(random io.Reader) (key, prefix string, hash []byte) {
	if random == nil {
		random = rand.Reader
	}
	var b [32]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		panic("realm: random source failed: " + err.Error())
	}
	n := new(big.Int).SetBytes(b[:])
	digits := make([]byte, apiKeyRandomLen)
	base, rem := big.NewInt(62), new(big.Int)
	for i := apiKeyRandomLen - 1; i >= 0; i-- {
		n.DivMod(n, base, rem)
		digits[i] = base62Digits[rem.Int64()]
	}
	key = APIKeyPrefix + string(digits)
	return key, key[:len(APIKeyPrefix)+apiKeyShownLen], HashSecret(key)
}

// LooksLikeAPIKey reports whether s has the shape of a Ward API key, so
// that anything else is refused without a database lookup.
func LooksLikeAPIKey(s string) bool {
	rest, ok := strings.CutPrefix(s, APIKeyPrefix)
	if !ok || len(rest) < 40 || len(rest) > 100 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// Why an API key may not be used, as the token endpoint's invalid_grant
// describes it (CONTRACT §6).
const (
	APIKeyUnknown     = "API key is unknown"
	APIKeyDeactivated = "API key is deactivated"
	APIKeyExpired     = "API key has expired"
)

// Usable returns "" when the key may be exchanged at now, else which of
// APIKeyDeactivated or APIKeyExpired stops it.
func (k *APIKey) Usable(now time.Time) string {
	switch {
	case !k.Active:
		return APIKeyDeactivated
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return APIKeyExpired
	}
	return ""
}

// APIKeyInput creates a key.
type APIKeyInput struct {
	Description string
	Permissions []string
	ExpiresAt   *time.Time
}

// APIKeyPatch changes a key.
type APIKeyPatch struct {
	Description *string
	Permissions *[]string
	Active      *bool
}

// NewAPIKeyResult is a created key with its secret, shown this once.
type NewAPIKeyResult struct {
	APIKey
	Key string
}

// maxBulkIDs bounds one bulk change.
const maxBulkIDs = 1000

// ListAPIKeys lists a realm's keys.
func (s *Service) ListAPIKeys(ctx context.Context, realmName string, f APIKeyFilter) (Page[APIKey], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[APIKey]{}, err
	}
	if f.ListOptions, err = pageOptions(f.ListOptions); err != nil {
		return Page[APIKey]{}, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return Page[APIKey]{}, err
	}
	return s.store.ListAPIKeys(ctx, r.ID, f)
}

// GetAPIKey returns one key of the realm (never its secret: only the hash
// is kept).
func (s *Service) GetAPIKey(ctx context.Context, realmName, id string) (*APIKey, error) {
	return readInRealm(ctx, s, realmName, func(r *Realm) (*APIKey, error) {
		return s.store.GetAPIKey(ctx, r.ID, id)
	})
}

// checkKeyPermissions: at least one, at most MaxKeyPermissions, each a
// permission name in the catalog, no duplicates. The result is sorted.
func checkKeyPermissions(v *ValidationError, perms []string, catalog []Permission) []string {
	if len(perms) == 0 {
		v.Add("permissions", "must name at least one permission of the realm's catalog")
		return nil
	}
	if len(perms) > MaxKeyPermissions {
		v.Add("permissions", fmt.Sprintf("must name at most %d permissions", MaxKeyPermissions))
		return nil
	}
	known := make(map[string]bool, len(catalog))
	for _, p := range catalog {
		known[p.Name] = true
	}
	out := make([]string, 0, len(perms))
	for i, p := range perms {
		field := fmt.Sprintf("permissions[%d]", i)
		switch {
		case !known[p]:
			v.Add(field, fmt.Sprintf("%s is not in the realm's permission catalog", clipQuote(p)))
		case slices.Contains(out, p):
			v.Add(field, "is a duplicate")
		default:
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// maxExpiry bounds expires_at: RFC 3339 has four-digit years, so a later
// time (9999-12-31T23:59:59-23:00 is one) could be stored but never shown:
// every answer naming the key would fail to encode.
var maxExpiry = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

// checkExpiry: an expiry, when given, lies in the future and before the
// year 10000 in UTC.
func checkExpiry(v *ValidationError, at *time.Time, now time.Time) *time.Time {
	if at == nil {
		return nil
	}
	t := at.UTC().Truncate(time.Microsecond)
	switch {
	case !t.After(now):
		v.Add("expires_at", "must be in the future")
	case !t.Before(maxExpiry):
		v.Add("expires_at", "must be before the year 10000 in UTC")
	}
	return &t
}

// CreateAPIKey makes a key; the result's Key is the secret, which no other
// answer ever shows again.
func (s *Service) CreateAPIKey(ctx context.Context, realmName string, in APIKeyInput) (*NewAPIKeyResult, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	v := &ValidationError{}
	k := &APIKey{Description: optionalText(v, "description", in.Description, maxDescriptionLen),
		ExpiresAt: checkExpiry(v, in.ExpiresAt, now), Active: true}
	if k.Description == "" {
		v.Add("description", "is required: it is how people tell keys apart")
	}
	var secret string
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		catalog, err := tx.ListPermissions(ctx, r.ID)
		if err != nil {
			return err
		}
		k.Permissions = checkKeyPermissions(v, in.Permissions, catalog)
		if err := v.OrNil(); err != nil {
			return err
		}
		secret, k.Prefix, k.Hash = NewAPIKey(s.random)
		k.ID, k.RealmID, k.CreatedAt, k.UpdatedAt = s.newID(), r.ID, now, now
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventAPIKeyCreated, "api_key", k.ID,
			map[string]any{"prefix": k.Prefix, "description": k.Description, "permissions": k.Permissions}))
	})
	if err != nil {
		return nil, err
	}
	return &NewAPIKeyResult{APIKey: *k, Key: secret}, nil
}

// UpdateAPIKey changes a key's description, permissions or active state.
// Deactivation takes effect at Ward at once (the exchange reads the row).
func (s *Service) UpdateAPIKey(ctx context.Context, realmName, id string, patch APIKeyPatch) (*APIKey, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	var desc string
	if patch.Description != nil {
		if desc = optionalText(v, "description", *patch.Description, maxDescriptionLen); desc == "" {
			v.Add("description", "is required: it is how people tell keys apart")
		}
	}
	var k *APIKey
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		var perms []string
		if patch.Permissions != nil {
			catalog, err := tx.ListPermissions(ctx, r.ID)
			if err != nil {
				return err
			}
			perms = checkKeyPermissions(v, *patch.Permissions, catalog)
		}
		if err := v.OrNil(); err != nil {
			return err
		}
		if k, err = tx.GetAPIKey(ctx, r.ID, id); err != nil {
			return err
		}
		var ch changed
		if patch.Description != nil && desc != k.Description {
			k.Description = desc
			ch.add("description")
		}
		if patch.Permissions != nil && !slices.Equal(perms, k.Permissions) {
			k.Permissions = perms
			ch.add("permissions")
		}
		var events []*Event
		if len(ch) > 0 {
			d := ch.details()
			d["prefix"] = k.Prefix
			if ch.has("permissions") {
				d["permissions"] = k.Permissions
			}
			events = append(events, s.event(a, r.OrgID, r.ID, EventAPIKeyUpdated, "api_key", k.ID, d))
		}
		if patch.Active != nil && *patch.Active != k.Active {
			k.Active = *patch.Active
			events = append(events, s.apiKeyActiveEvent(a, r, k))
		}
		if len(events) == 0 {
			return nil
		}
		k.UpdatedAt = s.now()
		if err := tx.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		return appendEvents(ctx, tx, events...)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Service) apiKeyActiveEvent(a access, r *Realm, k *APIKey) *Event {
	typ := EventAPIKeyDeactivated
	if k.Active {
		typ = EventAPIKeyReactivated
	}
	return s.event(a, r.OrgID, r.ID, typ, "api_key", k.ID, map[string]any{"prefix": k.Prefix})
}

// SetAPIKeysActive deactivates (or reactivates) many keys at once, all or
// nothing: an unknown ID is a 404 naming it and changes nothing. It
// returns how many keys changed state (keys already in the asked state are
// left alone and not counted); each change is an audit event.
func (s *Service) SetAPIKeysActive(ctx context.Context, realmName string, ids []string, active bool) (int, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return 0, err
	}
	v := &ValidationError{}
	switch {
	case len(ids) == 0:
		v.Add("ids", "must name at least one API key")
	case len(ids) > maxBulkIDs:
		v.Add("ids", fmt.Sprintf("must name at most %d API keys", maxBulkIDs))
	}
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			v.Add(fmt.Sprintf("ids[%d]", i), "is a duplicate")
		}
	}
	if err := v.OrNil(); err != nil {
		return 0, err
	}
	updated := 0
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		keys, err := tx.GetAPIKeys(ctx, r.ID, ids)
		if err != nil {
			return err
		}
		if len(keys) != len(ids) {
			return missingKeyError(ids, keys)
		}
		now := s.now()
		for i := range keys {
			k := &keys[i]
			if k.Active == active {
				continue
			}
			k.Active, k.UpdatedAt = active, now
			if err := tx.UpdateAPIKey(ctx, k); err != nil {
				return err
			}
			if err := appendEvents(ctx, tx, s.apiKeyActiveEvent(a, r, k)); err != nil {
				return err
			}
			updated++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return updated, nil
}

// missingKeyError is the 404 of a bulk change naming its first unknown ID.
func missingKeyError(ids []string, found []APIKey) error {
	for i, id := range ids {
		if !slices.ContainsFunc(found, func(k APIKey) bool { return k.ID == id }) {
			return &NotFoundError{Field: fmt.Sprintf("ids[%d]", i), Reason: fmt.Sprintf("no API key %s in this realm", clipQuote(id))}
		}
	}
	return ErrNotFound
}

// maxQuoted bounds how much of a caller's value an error message repeats:
// enough to recognise it, while a 1 MiB value does not come back whole.
const maxQuoted = 64

// clipQuote quotes s for an error message, cut to maxQuoted runes.
func clipQuote(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	r := []rune(s)
	return strconv.Quote(string(r[:maxQuoted])) + fmt.Sprintf(" (%d characters more)", len(r)-maxQuoted)
}
