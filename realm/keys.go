package realm

import (
	"context"
	"fmt"
)

// Signing algorithms a realm holds keys for: ES256 signs access and
// refresh tokens (and the ID tokens of applications that chose it), RS256
// the other ID tokens.
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// KeyMaker makes new signing keys for a realm (private part encrypted with
// the master key). The oauth package implements it; realm only stores keys.
type KeyMaker interface {
	NewSigningKey(ctx context.Context, realmID, alg string) (*SigningKey, error)
}

// RotateSigningKey gives the realm named realmName (the console realm
// included) a new active key for alg and retires its previous active ones,
// in one transaction with the realm.key_rotated event. Retired keys stay
// published while tokens they signed may live (the oauth package decides
// how long), and servers start signing with the new key once they have
// published it. Only Ward itself rotates keys (ward rotate-key).
func (s *Service) RotateSigningKey(ctx context.Context, realmName, alg string) (*SigningKey, error) {
	a, err := systemOnly(ctx)
	if err != nil {
		return nil, err
	}
	if alg != AlgES256 && alg != AlgRS256 {
		return nil, Invalid("alg", "must be ES256 or RS256")
	}
	r, err := s.store.GetRealmByName(ctx, realmName)
	if err != nil {
		return nil, err
	}
	// Made before the transaction, which it does not need (RSA takes long).
	k, err := s.keys.NewSigningKey(ctx, r.ID, alg)
	if err != nil {
		return nil, fmt.Errorf("realm: signing key: %w", err)
	}
	now := s.now()
	err = s.store.InTx(ctx, func(tx Store) error {
		old, err := tx.ListSigningKeys(ctx, r.ID)
		if err != nil {
			return err
		}
		for i := range old {
			if o := &old[i]; o.Active && o.Algorithm == alg {
				o.Active, o.RetiredAt = false, &now
				if err := tx.UpdateSigningKey(ctx, o); err != nil {
					return err
				}
			}
		}
		if err := tx.CreateSigningKey(ctx, k); err != nil {
			return err
		}
		// The kid and algorithm only: nothing of the key itself.
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventRealmKeyRotated, "realm", r.ID,
			map[string]any{"alg": alg, "kid": k.ID}))
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "realm: signing key rotated", "realm", r.Name, "alg", alg, "kid", k.ID)
	return k, nil
}

// EnsureSigningKey returns the realm's active key for alg, making and
// storing one when it has none: a realm created before keys existed gets
// its ES256 key on first use, and its RS256 key when it first signs an ID
// token with it (RSA generation is slow, and most realms never need one).
// It needs no principal: token issuing calls it. Two nodes making the first
// key at once each store one; both verify, the newer signs.
func (s *Service) EnsureSigningKey(ctx context.Context, realmID, alg string) (*SigningKey, error) {
	if alg != AlgES256 && alg != AlgRS256 {
		return nil, Invalid("alg", "must be ES256 or RS256")
	}
	keys, err := s.store.ListSigningKeys(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for i := range keys { // newest first
		if keys[i].Active && keys[i].Algorithm == alg {
			return &keys[i], nil
		}
	}
	k, err := s.keys.NewSigningKey(ctx, realmID, alg)
	if err != nil {
		return nil, fmt.Errorf("realm: signing key: %w", err)
	}
	if err := s.store.CreateSigningKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}
