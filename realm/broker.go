package realm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// What a sign-in through an identity provider does to the realm's users
// (CONTRACT §9). oauth/broker checks the provider's answer (signature,
// audience, issuer, time, replay) and hands over what it says about the
// person; here the person becomes a user: found by the provider's subject,
// linked by a verified email, or created; refused when deactivated; and
// put in the groups the provider's mappings say, every time.

// ExternalIdentity is what a provider said about the person, once
// oauth/broker has checked the answer.
type ExternalIdentity struct {
	Subject       string
	Email         string
	EmailVerified bool
	FirstName     string
	LastName      string
	// Groups are the person's groups at the provider (GroupClaim).
	Groups []string
}

// MaxExternalGroups bounds the groups read from one answer.
const MaxExternalGroups = 1000

// BrokerRefusal is a sign-in through a provider the realm refuses, for a
// reason the person should be told: Message is what the page says, Reason
// what the audit event records.
type BrokerRefusal struct {
	Reason  string
	Message string
}

func (e *BrokerRefusal) Error() string {
	return "realm: sign-in through identity provider refused: " + e.Reason
}

func refuseBroker(reason, message string) error {
	return &BrokerRefusal{Reason: reason, Message: message}
}

// BrokerResult is a sign-in through a provider that succeeded.
type BrokerResult struct {
	User *User
	// Created and Linked say whether this sign-in created the user or
	// linked an existing one.
	Created, Linked bool
}

// SignIn applies a provider's answer to the realm's users, in one
// transaction: the user linked to ext.Subject; else, with LinkByEmail and
// a verified email, the user with that email (linked now); else, with
// JIT and a verified email, a new user without a password; else a
// refusal. A deactivated user
// is refused. The memberships of the provider's mapped groups are set to
// what ext.Groups says (added and removed; other groups untouched), the
// default groups added, and the mapped group with the highest
// idp_primary_priority made the primary group. Every step is an audit
// event; a refusal (a *BrokerRefusal) is one too.
func (ip *IdentityProviders) SignIn(ctx context.Context, r *Realm, p *IdentityProvider, ext ExternalIdentity) (*BrokerResult, error) {
	if p.RealmID != r.ID {
		return nil, ErrNotFound
	}
	var res *BrokerResult
	err := ip.s.store.InTx(ctx, func(tx Store) error {
		// Memberships change below: the realm's membership lock keeps the
		// claims bound against concurrent changes (realmForMembership).
		if err := tx.LockRealmMembership(ctx, r.ID); err != nil {
			return err
		}
		var events []*Event
		var err error
		res, events, err = ip.findOrCreate(ctx, tx, r, p, ext)
		if err != nil {
			return err
		}
		u := res.User
		if !u.Active {
			return refuseBroker("deactivated", "This account is deactivated. Ask an administrator to reactivate it.")
		}
		groupEvents, err := ip.applyGroups(ctx, tx, r, p, u, ext.Groups)
		if err != nil {
			return err
		}
		events = append(events, groupEvents...)
		events = append(events, ip.s.event(userActor(u), r.OrgID, r.ID, EventIdentityProviderSignIn, "user", u.ID,
			map[string]any{"identity_provider": p.Alias, "email": u.Email}))
		return appendEvents(ctx, tx, events...)
	})
	var refusal *BrokerRefusal
	if errors.As(err, &refusal) {
		// Recorded outside the transaction the refusal rolled back.
		e := ip.s.event(providerActor(p), r.OrgID, r.ID, EventIdentityProviderSignInRefused, "identity_provider", p.ID,
			map[string]any{"identity_provider": p.Alias, "reason": refusal.Reason, "subject": boundedText(ext.Subject)})
		if werr := ip.s.store.AppendEvent(ctx, e); werr != nil {
			ip.s.log.WarnContext(ctx, "realm: audit event not written", "event", e.Type, "err", werr)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// RecordBrokerFailure records an answer from a provider that oauth/broker
// refused (a bad signature, the wrong audience, a replay…): reason names
// the check, never the answer's content.
func (ip *IdentityProviders) RecordBrokerFailure(ctx context.Context, r *Realm, p *IdentityProvider, reason string) {
	e := ip.s.event(providerActor(p), r.OrgID, r.ID, EventIdentityProviderSignInRefused, "identity_provider", p.ID,
		map[string]any{"identity_provider": p.Alias, "reason": reason})
	if err := ip.s.store.AppendEvent(ctx, e); err != nil {
		ip.s.log.WarnContext(ctx, "realm: audit event not written", "event", e.Type, "err", err)
	}
}

// userActor is a person acting for themself (signing in).
func userActor(u *User) access {
	return access{p: Principal{ActorType: "user", ActorID: u.ID}}
}

// providerActor is a provider's answer acting: it creates and links users.
func providerActor(p *IdentityProvider) access {
	return access{p: Principal{ActorType: "identity_provider", ActorID: p.Alias}}
}

// findOrCreate finds the user of ext, linking or creating one as p allows.
func (ip *IdentityProviders) findOrCreate(ctx context.Context, tx Store, r *Realm, p *IdentityProvider, ext ExternalIdentity) (*BrokerResult, []*Event, error) {
	if ext.Subject == "" || len(ext.Subject) > 1024 || TextProblem(ext.Subject, false) != "" {
		return nil, nil, refuseBroker("bad_subject", "The identity provider did not identify you in a way Ward can use.")
	}
	link, err := tx.GetUserIdentity(ctx, r.ID, p.ID, ext.Subject)
	if err == nil {
		u, err := tx.GetUser(ctx, r.ID, link.UserID)
		if err != nil {
			return nil, nil, err
		}
		return &BrokerResult{User: u}, nil, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	email := strings.TrimSpace(ext.Email)
	emailOK := email != "" && validEmail(email)
	var existing *User
	if emailOK {
		existing, err = tx.GetUserByEmail(ctx, r.ID, email)
		if errors.Is(err, ErrNotFound) {
			existing = nil
		} else if err != nil {
			return nil, nil, err
		}
	}
	actor := providerActor(p)
	now := ip.s.now()
	linkTo := func(u *User) (*Event, error) {
		l := &UserIdentity{RealmID: r.ID, ProviderID: p.ID, Subject: ext.Subject, UserID: u.ID, CreatedAt: now}
		if err := tx.CreateUserIdentity(ctx, l); err != nil {
			if errors.Is(err, ErrConflict) {
				return nil, refuseBroker("already_linked", "This account is already linked to another account at this identity provider.")
			}
			return nil, err
		}
		return ip.s.event(actor, r.OrgID, r.ID, EventUserIdentityLinked, "user", u.ID,
			map[string]any{"identity_provider": p.Alias, "subject": boundedText(ext.Subject), "email": u.Email}), nil
	}
	switch {
	case existing != nil && !p.LinkByEmail:
		return nil, nil, refuseBroker("email_taken", "An account with your email address already exists in this realm. Sign in with its password, or ask an administrator to link it.")
	case existing != nil && !ext.EmailVerified:
		return nil, nil, refuseBroker("email_unverified", "The identity provider did not say your email address is verified, so it cannot be linked to the existing account.")
	case existing != nil:
		e, err := linkTo(existing)
		if err != nil {
			return nil, nil, err
		}
		return &BrokerResult{User: existing, Linked: true}, []*Event{e}, nil
	case !p.JIT:
		return nil, nil, refuseBroker("no_account", "There is no account for you in this realm. Ask an administrator for one.")
	case !emailOK:
		return nil, nil, refuseBroker("no_email", "The identity provider did not send a usable email address, which a new account needs.")
	case !ext.EmailVerified:
		// Ward says every user's email is verified (ID tokens, userinfo):
		// a user created from an address nobody verified would make that
		// a lie other relying parties act on (and pre-claim the address).
		return nil, nil, refuseBroker("email_unverified", "The identity provider did not say your email address is verified, which a new account needs.")
	}
	first, last := personName(ext.FirstName), personName(ext.LastName)
	if first == "" {
		first, _, _ = strings.Cut(email, "@")
	}
	u := &User{ID: ip.s.newID(), RealmID: r.ID, Email: email, FirstName: first, LastName: last,
		Active: true, Groups: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateUser(ctx, u); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, nil, refuseBroker("email_taken", "An account with your email address already exists in this realm.")
		}
		return nil, nil, err
	}
	created := ip.s.event(actor, r.OrgID, r.ID, EventUserCreated, "user", u.ID,
		map[string]any{"email": u.Email, "groups": []string{}, "primary_group": "", "identity_provider": p.Alias})
	linked, err := linkTo(u)
	if err != nil {
		return nil, nil, err
	}
	return &BrokerResult{User: u, Created: true}, []*Event{created, linked}, nil
}

// applyGroups sets u's memberships of p's mapped groups to what the
// provider said, adds the default groups and picks the primary group.
func (ip *IdentityProviders) applyGroups(ctx context.Context, tx Store, r *Realm, p *IdentityProvider, u *User, external []string) ([]*Event, error) {
	said := make(map[string]bool, len(external))
	for _, g := range external {
		said[g] = true
	}
	managed := map[string]bool{}
	var mapped []string
	for _, m := range p.GroupMappings {
		managed[m.Group] = true
		if said[m.External] && !slices.Contains(mapped, m.Group) {
			mapped = append(mapped, m.Group)
		}
	}
	want := make([]string, 0, len(u.Groups)+len(mapped)+len(p.DefaultGroups))
	for _, g := range u.Groups {
		if !managed[g] {
			want = append(want, g)
		}
	}
	want = append(want, mapped...)
	want = append(want, p.DefaultGroups...)
	// Groups deleted since the provider was saved are simply not joined
	// (deleting a group a provider names is refused, but not across a
	// race).
	found, err := tx.GetGroups(ctx, r.ID, want)
	if err != nil {
		return nil, err
	}
	groups := make([]string, 0, len(found))
	for _, g := range found {
		groups = append(groups, g.ID)
	}
	slices.Sort(groups)
	primary := u.PrimaryGroup
	best := 0
	for _, g := range found {
		if slices.Contains(mapped, g.ID) && g.IDPPrimaryPriority > best {
			primary, best = g.ID, g.IDPPrimaryPriority
		}
	}
	if !slices.Contains(groups, primary) {
		primary = ""
	}
	if slices.Equal(groups, u.Groups) && primary == u.PrimaryGroup {
		return nil, nil
	}
	names, eff, err := groupClaims(ctx, tx, r.ID, found, primary)
	if err != nil {
		return nil, err
	}
	if claimsBytes(names, eff) > MaxClaimsBytes {
		return nil, refuseBroker("claims_too_large", "Your groups would give this account more attributes than a token can carry. Ask an administrator.")
	}
	actor := providerActor(p)
	var events []*Event
	for _, g := range groups {
		if !slices.Contains(u.Groups, g) {
			events = append(events, ip.s.event(actor, r.OrgID, r.ID, EventUserGroupAdded, "user", u.ID,
				map[string]any{"group": g, "identity_provider": p.Alias}))
		}
	}
	for _, g := range u.Groups {
		if !slices.Contains(groups, g) {
			events = append(events, ip.s.event(actor, r.OrgID, r.ID, EventUserGroupRemoved, "user", u.ID,
				map[string]any{"group": g, "identity_provider": p.Alias}))
		}
	}
	if primary != u.PrimaryGroup {
		events = append(events, ip.s.event(actor, r.OrgID, r.ID, EventUserUpdated, "user", u.ID,
			map[string]any{"fields": []string{"primary_group"}, "primary_group": primary, "email": u.Email, "identity_provider": p.Alias}))
	}
	u.Groups, u.PrimaryGroup, u.UpdatedAt = groups, primary, ip.s.now()
	if err := tx.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	return events, nil
}

// personName is a name from a provider made fit to store: trimmed, without
// control characters, at most maxNameLen characters; "" when unusable.
func personName(s string) string {
	s = strings.TrimSpace(s)
	if TextProblem(s, false) != "" {
		return ""
	}
	if r := []rune(s); len(r) > maxNameLen {
		s = string(r[:maxNameLen])
	}
	return s
}

// boundedText is outside text fit for an audit event.
func boundedText(s string) string {
	if !utf8.ValidString(s) || TextProblem(s, false) != "" {
		return fmt.Sprintf("%.256q", s)
	}
	if r := []rune(s); len(r) > 256 {
		return string(r[:256]) + "…"
	}
	return s
}

// validEmail is checkEmail as a yes or no.
func validEmail(email string) bool {
	v := &ValidationError{}
	checkEmail(v, "email", email)
	return len(v.Fields) == 0
}

// BrokerStart is a sign-in through a provider being sent to it.
type BrokerStart struct {
	// Token is the state token for the provider's round trip (OIDC state,
	// SAML RelayState) and the browser's cookie; only its hash is kept.
	Token string
}

// StartBrokerSignIn records a sign-in in flight: requestID (the SAML
// AuthnRequest ID or OIDC nonce), the PKCE verifier (sealed; "" for SAML)
// and the authorization request to continue. It lives BrokerStateTTL.
func (ip *IdentityProviders) StartBrokerSignIn(ctx context.Context, r *Realm, p *IdentityProvider, requestID, verifier, continueQuery string) (*BrokerStart, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	id := stateID(token)
	now := ip.s.now()
	st := &BrokerState{ID: id, RealmID: r.ID, ProviderID: p.ID, RequestID: requestID, Continue: continueQuery,
		ExpiresAt: now.Add(BrokerStateTTL), CreatedAt: now}
	if verifier != "" {
		sealed, err := ip.seal(stateAD(id), []byte(verifier))
		if err != nil {
			return nil, err
		}
		st.VerifierSealed = sealed
	}
	if err := ip.s.store.CreateBrokerState(ctx, st); err != nil {
		return nil, err
	}
	return &BrokerStart{Token: token}, nil
}

// TakeBrokerSignIn takes the sign-in in flight with this token, once; the
// PKCE verifier comes back opened. An unknown, used or expired token is
// ErrNotFound.
func (ip *IdentityProviders) TakeBrokerSignIn(ctx context.Context, r *Realm, token string) (*BrokerState, string, error) {
	if token == "" || len(token) > 100 {
		return nil, "", ErrNotFound
	}
	id := stateID(token)
	st, err := ip.s.store.TakeBrokerState(ctx, r.ID, id, ip.s.now())
	if err != nil {
		return nil, "", err
	}
	var verifier string
	if st.VerifierSealed != nil {
		b, err := ip.open(stateAD(id), st.VerifierSealed)
		if err != nil {
			return nil, "", err
		}
		verifier = string(b)
	}
	return st, verifier, nil
}

func stateID(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func stateAD(id []byte) []byte { return append([]byte("ward broker state v1\x00"), id...) }
