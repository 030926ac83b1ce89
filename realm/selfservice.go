package realm

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Self-service flows: the person acts on their own account through a
// single-use link or a public form, so these methods need no principal. The
// link's token is the credential.

// resetPasswordTTL is how long a self-service reset link lives (CONTRACT §4).
const resetPasswordTTL = 30 * time.Minute

// errLinkUnusable is the one answer for a link that is unknown, expired,
// used, voided by a newer one, or of another realm: telling them apart would
// help nobody but someone guessing.
func errLinkUnusable() error {
	return Invalid("token", "this link is invalid or has expired; ask for a new one")
}

// errLookOnly rolls back a transaction that used a link only to see
// whether it could be used.
var errLookOnly = errors.New("realm: looked only")

// ActionLinkUsable reports whether a set-password or reset link could be
// used at realmName now (unused, unexpired, of that realm, its user
// active), without using it: the page it opens says at once when it
// cannot, rather than after the form is sent. The link is used in a
// transaction that is rolled back, so the answer is the one the form's
// submission would get.
func (s *Service) ActionLinkUsable(ctx context.Context, realmName, token string) (bool, error) {
	_, u, err := s.linkSubject(ctx, realmName, token)
	return u != nil, err
}

// linkSubject is the realm and the user a usable link is for (nil, nil
// when it is not usable), found without using the link up.
func (s *Service) linkSubject(ctx context.Context, realmName, token string) (*Realm, *User, error) {
	if token == "" {
		return nil, nil, nil
	}
	var (
		realmOf *Realm
		user    *User
	)
	err := s.store.InTx(ctx, func(tx Store) error {
		r, err := tx.GetRealmByName(ctx, realmName)
		if errors.Is(err, ErrNotFound) {
			return errLookOnly
		} else if err != nil {
			return err
		}
		t, err := tx.UseActionToken(ctx, HashSecret(token), s.now())
		if errors.Is(err, ErrNotFound) {
			return errLookOnly
		} else if err != nil {
			return err
		}
		if t.RealmID != r.ID || (t.Purpose != PurposeSetPassword && t.Purpose != PurposeResetPassword) {
			return errLookOnly
		}
		u, err := tx.GetUser(ctx, r.ID, t.UserID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err == nil && u.Active {
			realmOf, user = r, u
		}
		return errLookOnly
	})
	if err != nil && !errors.Is(err, errLookOnly) {
		return nil, nil, err
	}
	return realmOf, user, nil
}

// SetPasswordWithLink sets the password of the user a set-password (or
// reset) link was issued for, and uses the link up. The password is checked
// first, so a typo does not burn the link.
func (s *Service) SetPasswordWithLink(ctx context.Context, realmName, token, password, confirm string) error {
	v := &ValidationError{}
	checkNewPassword(v, password, confirm)
	if err := v.OrNil(); err != nil {
		return err
	}
	if token == "" {
		return errLinkUnusable()
	}
	// The realm's policy, for the user the link is for (its email and
	// names are what a password must not be made of), before anything is
	// written: the strength estimate takes milliseconds, which the
	// transaction below should not hold its locks for. The link is used
	// only there, so a refusal leaves it good for another try.
	r, u, err := s.linkSubject(ctx, realmName, token)
	if err != nil {
		return err
	}
	if u == nil {
		return errLinkUnusable()
	}
	if checkPasswordPolicy(v, r, u, password); v.OrNil() != nil {
		return v
	}
	hash, err := s.passwords.Hash(password, s.random)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := tx.GetRealmByName(ctx, realmName)
		if errors.Is(err, ErrNotFound) {
			return errLinkUnusable()
		} else if err != nil {
			return err
		}
		t, err := tx.UseActionToken(ctx, HashSecret(token), s.now())
		if errors.Is(err, ErrNotFound) {
			return errLinkUnusable()
		} else if err != nil {
			return err
		}
		if t.RealmID != r.ID || (t.Purpose != PurposeSetPassword && t.Purpose != PurposeResetPassword) {
			// Returning the error rolls the use back: a link shown at the
			// wrong realm stays good for its own.
			return errLinkUnusable()
		}
		u, err := tx.GetUser(ctx, r.ID, t.UserID)
		if err != nil {
			return err
		}
		if !u.Active {
			return errLinkUnusable()
		}
		u.PasswordHash = hash
		u.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		// One link used ends all others, whatever their purpose.
		if err := tx.VoidActionTokens(ctx, r.ID, u.ID, s.now()); err != nil {
			return err
		}
		self := access{p: Principal{ActorType: "user", ActorID: u.ID}}
		orgID, eventRealm := r.OrgID, r.ID
		if r.Name == ConsoleRealm {
			eventRealm = ""
		}
		return appendEvents(ctx, tx, s.event(self, orgID, eventRealm, EventUserPasswordSet, "user", u.ID,
			map[string]any{"via": t.Purpose}))
	})
}

// RequestPasswordReset mails a 30-minute reset link to the active user with
// this email in the realm. It answers the same whether or not there is one
// (nil, unless the database fails), so the form reveals no accounts.
func (s *Service) RequestPasswordReset(ctx context.Context, realmName, email string) error {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > 320 {
		return nil
	}
	var (
		r *Realm
		u *User
	)
	err := s.store.InTx(ctx, func(tx Store) error {
		var err error
		if r, err = tx.GetRealmByName(ctx, realmName); err != nil {
			return err
		}
		if u, err = tx.GetUserByEmail(ctx, r.ID, email); err != nil {
			return err
		}
		if !u.Active {
			return ErrNotFound
		}
		token, hash := newLinkToken(s.random)
		now := s.now()
		t := &ActionToken{Hash: hash, RealmID: r.ID, UserID: u.ID, Purpose: PurposeResetPassword,
			ExpiresAt: now.Add(resetPasswordTTL), CreatedAt: now}
		if err := tx.CreateActionToken(ctx, t); err != nil {
			return err
		}
		eventRealm := r.ID
		if r.Name == ConsoleRealm {
			eventRealm = ""
		}
		self := access{p: Principal{ActorType: "user", ActorID: u.ID}}
		if err := appendEvents(ctx, tx, s.event(self, r.OrgID, eventRealm, EventUserPasswordResetRequested, "user", u.ID,
			map[string]any{"expires_at": t.ExpiresAt.Format(time.RFC3339)})); err != nil {
			return err
		}
		path := "/realms/" + r.Name + "/login-actions/set-password?token=" + token
		return s.queueLinkMail(ctx, tx, r.OrgID, r, u, PurposeResetPassword, path, resetPasswordTTL)
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.mailQueued()
	return nil
}
