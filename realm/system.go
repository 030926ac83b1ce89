package realm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Lifetimes of one-time links (CONTRACT §1 and §4).
const (
	setPasswordTTL = 12 * time.Hour
	setupTokenTTL  = time.Hour
)

// EnsureSystem creates the console realm, its ES256 key and the public
// ward-console client when missing. Cheap when they exist: one read, because
// the three are created in one transaction and so exist together.
// Only the System principal may call it (start-up and bootstrap).
func (s *Service) EnsureSystem(ctx context.Context) error {
	a, err := systemOnly(ctx)
	if err != nil {
		return err
	}
	r, err := s.ensureSystem(ctx, a)
	if err != nil {
		return err
	}
	return s.ensureConsoleRedirect(ctx, r)
}

// consoleClientURLs returns ward-console's redirect URI and web origin,
// which follow the public URL (nil when it is not configured).
func (s *Service) consoleClientURLs() (redirects, origins []string) {
	if s.publicURL == "" {
		return nil, nil
	}
	origin := s.publicURL
	if u, err := url.Parse(s.publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	return []string{s.publicURL + "/console/callback"}, []string{origin}
}

// ensureConsoleRedirect points ward-console at {public_url}/console/callback
// when the public URL has changed since (one read when it has not).
func (s *Service) ensureConsoleRedirect(ctx context.Context, r *Realm) error {
	redirects, origins := s.consoleClientURLs()
	if redirects == nil {
		return nil
	}
	c, err := s.store.GetClient(ctx, r.ID, ConsoleClientID)
	if err != nil {
		return err
	}
	if slices.Equal(c.RedirectURIs, redirects) && slices.Equal(c.WebOrigins, origins) {
		return nil
	}
	c.RedirectURIs, c.WebOrigins, c.UpdatedAt = redirects, origins, s.now()
	return s.store.UpdateClient(ctx, c)
}

// ensureSystem returns the console realm, creating it first if needed.
func (s *Service) ensureSystem(ctx context.Context, a access) (*Realm, error) {
	r, err := s.store.GetRealmByName(ctx, ConsoleRealm)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	now := s.now()
	r = &Realm{ID: s.newID(), Name: ConsoleRealm, DisplayName: "Ward console", CreatedAt: now, UpdatedAt: now}
	// The key is made before the transaction: key generation needs no
	// database, and keeping it out keeps the write transaction short.
	key, err := s.keys.NewSigningKey(ctx, r.ID, AlgES256)
	if err != nil {
		return nil, fmt.Errorf("realm: console signing key: %w", err)
	}
	console := &Client{
		ID: s.newID(), RealmID: r.ID, ClientID: ConsoleClientID, Name: "Ward console",
		Kind: KindApplication, Active: true, Public: true, Communication: CommRedirect,
		DisplayName: "Ward console", DefaultScopes: DefaultClientScopes(), CreatedAt: now, UpdatedAt: now,
	}
	console.RedirectURIs, console.WebOrigins = s.consoleClientURLs()
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateRealm(ctx, r); err != nil {
			return err
		}
		if err := tx.CreateSigningKey(ctx, key); err != nil {
			return err
		}
		if err := tx.CreateClient(ctx, console); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, "", "", EventRealmCreated, "realm", r.ID, map[string]any{"name": r.Name}))
	})
	if errors.Is(err, ErrConflict) {
		// Another node created it at the same moment: use theirs.
		return s.store.GetRealmByName(ctx, ConsoleRealm)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Bootstrap creates an org, its owner (console user + member) and one org
// admin client with role owner, all in one transaction. Conflict (field
// "org") if the org slug exists. Only System may bootstrap: it is the
// `ward bootstrap` command and the one-time console setup.
func (s *Service) Bootstrap(ctx context.Context, in BootstrapInput) (*BootstrapResult, error) {
	return s.bootstrap(ctx, in, "")
}

// Setup is the one-time console setup page's bootstrap: it works only with
// the setup token printed at first start, uses it up in the same
// transaction, and only while no organization exists, so it can neither run
// twice nor take over an existing console account.
func (s *Service) Setup(ctx context.Context, setupToken string, in BootstrapInput) (*BootstrapResult, error) {
	if setupToken == "" {
		return nil, Invalid("token", "the setup link is invalid, expired or already used")
	}
	return s.bootstrap(ctx, in, setupToken)
}

// SetupLinkUsable reports whether a console setup link could be used now
// (unused, unexpired), without using it (see ActionLinkUsable).
func (s *Service) SetupLinkUsable(ctx context.Context, setupToken string) (bool, error) {
	if _, err := systemOnly(ctx); err != nil {
		return false, err
	}
	if setupToken == "" {
		return false, nil
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := tx.UseSetupToken(ctx, HashSecret(setupToken), s.now()); err != nil {
			return err
		}
		if n, err := tx.CountOrgs(ctx); err != nil {
			return err
		} else if n > 0 {
			return ErrNotFound // set up already: as Setup refuses it
		}
		return errLookOnly
	})
	switch {
	case errors.Is(err, errLookOnly):
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	}
	return false, err
}

func (s *Service) bootstrap(ctx context.Context, in BootstrapInput, setupToken string) (*BootstrapResult, error) {
	a, err := systemOnly(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	slug := strings.TrimSpace(in.OrgSlug)
	if msg := checkOrgSlug(slug); msg != "" {
		v.Add("org", msg)
	}
	email := strings.TrimSpace(in.OwnerEmail)
	checkEmail(v, "owner_email", email)
	orgName := optionalText(v, "org_name", in.OrgName, maxNameLen)
	if orgName == "" {
		orgName = slug
	}
	first := optionalText(v, "first_name", in.FirstName, maxNameLen)
	if first == "" {
		first = "Owner"
	}
	last := optionalText(v, "last_name", in.LastName, maxNameLen)
	if last == "" {
		last = slug
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	console, err := s.ensureSystem(ctx, a)
	if err != nil {
		return nil, err
	}
	now := s.now()
	org := &Org{ID: s.newID(), Slug: slug, Name: orgName, CreatedAt: now}
	secret, hash := NewSecret(s.random)
	client := &Client{
		ID: s.newID(), RealmID: console.ID, ClientID: newClientID(s.random), Name: "bootstrap",
		Kind: KindServiceAccount, Active: true, OrgID: org.ID, OrgRole: RoleOwner,
		SecretHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	var member *Member
	err = s.store.InTx(ctx, func(tx Store) error {
		if setupToken != "" {
			if err := tx.UseSetupToken(ctx, HashSecret(setupToken), now); errors.Is(err, ErrNotFound) {
				return Invalid("token", "the setup link is invalid, expired or already used")
			} else if err != nil {
				return err
			}
			if n, err := tx.CountOrgs(ctx); err != nil {
				return err
			} else if n > 0 {
				return Invalid("token", "the setup link is invalid, expired or already used")
			}
		}
		if _, err := tx.GetOrgBySlug(ctx, slug); err == nil {
			return Conflict("org", fmt.Sprintf("organization %q already exists", slug))
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := tx.CreateOrg(ctx, org); err != nil {
			return asConflict(err, "org", fmt.Sprintf("organization %q already exists", slug))
		}
		user, created, err := s.consoleUser(ctx, tx, console.ID, email, first, last)
		if err != nil {
			return err
		}
		member = &Member{ID: s.newID(), OrgID: org.ID, UserID: user.ID, Role: RoleOwner, CreatedAt: now, UpdatedAt: now, User: user}
		if err := tx.CreateMember(ctx, member); err != nil {
			return err
		}
		if err := tx.CreateClient(ctx, client); err != nil {
			return err
		}
		return appendEvents(ctx, tx,
			s.event(a, org.ID, "", EventOrgCreated, "org", org.ID, map[string]any{"slug": org.Slug, "name": org.Name}),
			s.event(a, org.ID, "", EventMemberCreated, "member", member.ID,
				map[string]any{"user_id": user.ID, "email": user.Email, "role": string(member.Role), "user_created": created}),
			s.event(a, org.ID, "", EventClientCreated, "client", client.ClientID,
				map[string]any{"name": client.Name, "kind": string(client.Kind), "role": string(client.OrgRole)}),
		)
	})
	if err != nil {
		return nil, err
	}
	member.User = userView(member.User)
	return &BootstrapResult{Org: org, Owner: member, Client: clientView(client), ClientSecret: secret}, nil
}

// checkOrgSlug: org slugs follow the realm name pattern (they appear in
// scopes such as org:SLUG); nothing is reserved.
func checkOrgSlug(slug string) string {
	if slug == "" {
		return "is required"
	}
	if !realmNamePattern.MatchString(slug) {
		return nameRule
	}
	return ""
}

// consoleUser finds the console account with this email (case-insensitive)
// or creates it, inside tx. created tells which.
func (s *Service) consoleUser(ctx context.Context, tx Store, consoleID, email, first, last string) (*User, bool, error) {
	u, err := tx.GetUserByEmail(ctx, consoleID, email)
	if err == nil {
		return u, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	now := s.now()
	u = &User{ID: s.newID(), RealmID: consoleID, Email: email, FirstName: first, LastName: last,
		Active: true, Groups: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateUser(ctx, u); err != nil {
		return nil, false, asConflict(err, "email", "a console account with this email already exists")
	}
	return u, true, nil
}

// SetPasswordLink issues a set-password action token (12 h, single use; a
// newer link voids older ones) for a console or realm user and returns the
// path+query "/realms/{realm}/login-actions/set-password?token=…".
//
// Only System may: the link is a credential for the account, and handing it
// to an org principal would let the owner of one org take over a console
// account shared with another. Org principals use SendSetPasswordEmail,
// which mails the link to the account's own address instead.
func (s *Service) SetPasswordLink(ctx context.Context, realmID, userID string) (string, error) {
	a, err := systemOnly(ctx)
	if err != nil {
		return "", err
	}
	var path string
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := tx.GetRealm(ctx, realmID)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, r.ID, userID)
		if err != nil {
			return err
		}
		if !u.Active {
			return Conflict("active", "the user is deactivated; reactivate it first")
		}
		orgID := r.OrgID
		if r.Name == ConsoleRealm {
			// A console account's events belong to the org it joined first.
			ms, err := tx.ListMembershipsOfUser(ctx, u.ID)
			if err != nil {
				return err
			}
			if len(ms) > 0 {
				orgID = ms[0].OrgID
			}
		}
		path, err = s.issueSetPasswordLink(ctx, tx, a, r, u, orgID)
		return err
	})
	return path, err
}

// NewSetupToken returns a one-time console setup token valid 1 h when no
// organization exists yet; ("", nil) otherwise. System only (serve start-up).
func (s *Service) NewSetupToken(ctx context.Context) (string, error) {
	if _, err := systemOnly(ctx); err != nil {
		return "", err
	}
	n, err := s.store.CountOrgs(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	token, hash := newLinkToken(s.random)
	if err := s.store.CreateSetupToken(ctx, &SetupToken{Hash: hash, ExpiresAt: s.now().Add(setupTokenTTL)}); err != nil {
		return "", err
	}
	return token, nil
}

// newLinkToken returns a 256-bit random token (base64url) and its SHA-256,
// which is all that is stored.
func newLinkToken(random io.Reader) (string, []byte) {
	if random == nil {
		random = rand.Reader
	}
	var b [32]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		panic("realm: random source failed: " + err.Error())
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	return token, h[:]
}
