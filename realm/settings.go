package realm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // logos: image.DecodeConfig knows JPEG
	_ "image/png"  // and PNG
	"regexp"
	"strings"
	"time"

	"github.com/trustelem/zxcvbn"
)

// Realm settings (CONTRACT §3 "realm settings"): what Keycloak admins set
// per realm, each within safe bounds. The zero value of every field means
// Ward's default, so a realm stored before settings existed (or one that
// never changed them) behaves as before, and a default moved in a later
// release moves for it too.
type RealmSettings struct {
	// AccentColor colours the login page's buttons and links: #rrggbb.
	AccentColor string `json:"accent_color,omitempty"`
	// LogoType is the login page logo's media type ("" when there is
	// none) and LogoVersion changes with every upload, so the page's link
	// to it (served by Ward) changes too and caches never show an old one.
	LogoType    string `json:"logo_type,omitempty"`
	LogoVersion int64  `json:"logo_version,omitempty"`
	// PasswordMinLength is the shortest password users may choose.
	PasswordMinLength int `json:"password_min_length,omitempty"`
	// PasswordMinStrength is the lowest strength score (0–4, as zxcvbn
	// estimates it) a new password must reach; 0 checks none.
	PasswordMinStrength int `json:"password_min_strength,omitempty"`
	// LockThreshold is how many consecutive failed sign-ins lock an
	// account; MaxLockSeconds the longest lock (each lockout doubles it
	// from a minute up to this).
	LockThreshold  int `json:"lock_threshold,omitempty"`
	MaxLockSeconds int `json:"max_lock_seconds,omitempty"`
	// SessionSeconds is how long a browser sign-in lasts;
	// AccessTokenSeconds how long an access (and ID) token does.
	SessionSeconds     int `json:"session_seconds,omitempty"`
	AccessTokenSeconds int `json:"access_token_seconds,omitempty"`
}

// Defaults and bounds of the settings.
const (
	DefaultMaxLock        = 15 * time.Minute
	DefaultSessionLife    = 10 * time.Hour
	maxPasswordMinLength  = 128
	minLockThreshold      = 3
	maxLockThreshold      = 100
	minMaxLockSeconds     = 60
	maxMaxLockSeconds     = 24 * 3600
	minSessionSeconds     = 5 * 60
	maxSessionSeconds     = 30 * 24 * 3600
	minAccessTokenSeconds = 60
	maxAccessTokenSeconds = 3600
	maxPasswordStrength   = 4
)

// PasswordMin is the shortest password the realm accepts.
func (s RealmSettings) PasswordMin() int {
	if s.PasswordMinLength == 0 {
		return MinPasswordLength
	}
	return s.PasswordMinLength
}

// LockAfter is how many consecutive failures lock an account.
func (s RealmSettings) LockAfter() int {
	if s.LockThreshold == 0 {
		return LoginLockThreshold
	}
	return s.LockThreshold
}

// MaxLock is the longest sign-in lock.
func (s RealmSettings) MaxLock() time.Duration {
	if s.MaxLockSeconds == 0 {
		return DefaultMaxLock
	}
	return time.Duration(s.MaxLockSeconds) * time.Second
}

// SessionLife is how long a browser sign-in lasts; fallback is the
// server's default (0: DefaultSessionLife).
func (s RealmSettings) SessionLife(fallback time.Duration) time.Duration {
	switch {
	case s.SessionSeconds != 0:
		return time.Duration(s.SessionSeconds) * time.Second
	case fallback > 0:
		return fallback
	}
	return DefaultSessionLife
}

// AccessTokenLife is how long an access token lasts; fallback is the
// server's default (0: DefaultAccessTokenLifespan).
func (s RealmSettings) AccessTokenLife(fallback time.Duration) time.Duration {
	switch {
	case s.AccessTokenSeconds != 0:
		return time.Duration(s.AccessTokenSeconds) * time.Second
	case fallback > 0:
		return fallback
	}
	return DefaultAccessTokenLifespan
}

var accentColorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// SettingsPatch changes some settings; nil leaves one as it is, and a
// pointer to 0 ("" for the colour) goes back to the default.
type SettingsPatch struct {
	DisplayName         *string
	AccentColor         *string
	PasswordMinLength   *int
	PasswordMinStrength *int
	LockThreshold       *int
	MaxLockSeconds      *int
	SessionSeconds      *int
	AccessTokenSeconds  *int
}

// apply checks p and applies it to s, naming each bad field; it returns
// the fields that changed.
func (p SettingsPatch) apply(v *ValidationError, s *RealmSettings) changed {
	var ch changed
	setInt := func(field string, in *int, out *int, lo, hi int) {
		if in == nil {
			return
		}
		if *in != 0 && (*in < lo || *in > hi) {
			v.Add(field, fmt.Sprintf("must be an integer from %d to %d (0 for the default)", lo, hi))
			return
		}
		if *in != *out {
			*out = *in
			ch.add(field)
		}
	}
	if p.AccentColor != nil {
		c := strings.ToLower(strings.TrimSpace(*p.AccentColor))
		if c != "" && !accentColorPattern.MatchString(c) {
			v.Add("branding.accent_color", "must be a colour written #rrggbb, such as #1f4fd1 (empty for the default)")
		} else if c != s.AccentColor {
			s.AccentColor = c
			ch.add("branding.accent_color")
		}
	}
	setInt("password_policy.min_length", p.PasswordMinLength, &s.PasswordMinLength, MinPasswordLength, maxPasswordMinLength)
	setInt("password_policy.min_strength", p.PasswordMinStrength, &s.PasswordMinStrength, 1, maxPasswordStrength)
	setInt("brute_force.lock_threshold", p.LockThreshold, &s.LockThreshold, minLockThreshold, maxLockThreshold)
	setInt("brute_force.max_lock_seconds", p.MaxLockSeconds, &s.MaxLockSeconds, minMaxLockSeconds, maxMaxLockSeconds)
	setInt("lifetimes.session_seconds", p.SessionSeconds, &s.SessionSeconds, minSessionSeconds, maxSessionSeconds)
	setInt("lifetimes.access_token_seconds", p.AccessTokenSeconds, &s.AccessTokenSeconds, minAccessTokenSeconds, maxAccessTokenSeconds)
	return ch
}

// UpdateRealmSettings changes a realm's display name and settings, each
// checked within its bounds; a refused patch changes nothing. The change
// is an audit event naming the fields (realm.settings_updated).
func (s *Service) UpdateRealmSettings(ctx context.Context, name string, p SettingsPatch) (*Realm, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	var display string
	if p.DisplayName != nil {
		display = optionalText(v, "display_name", *p.DisplayName, maxNameLen)
	}
	var r *Realm
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		if r, err = a.realm(ctx, tx, name); err != nil {
			return err
		}
		ch := p.apply(v, &r.Settings)
		if err := v.OrNil(); err != nil {
			return err
		}
		if p.DisplayName != nil {
			setDisplayName(r, display, &ch)
		}
		if len(ch) == 0 {
			return nil
		}
		r.UpdatedAt = s.now()
		if err := tx.UpdateRealm(ctx, r); err != nil {
			return err
		}
		d := ch.details()
		d["name"] = r.Name
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventRealmSettingsUpdated, "realm", r.ID, d))
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// checkPasswordPolicy refuses a new password the realm's policy does not
// accept: shorter than its minimum, the user's email itself, or weaker
// than its minimum strength as zxcvbn estimates it, knowing the user's
// email and names and the realm's (a password made of them is guessed
// first).
func checkPasswordPolicy(v *ValidationError, r *Realm, u *User, password string) {
	if n := len([]rune(password)); n < r.Settings.PasswordMin() {
		v.Add("password", fmt.Sprintf("must be at least %d characters", r.Settings.PasswordMin()))
		return
	}
	email := strings.ToLower(strings.TrimSpace(u.Email))
	local, _, _ := strings.Cut(email, "@")
	if p := strings.ToLower(password); p == email || p == local {
		v.Add("password", "must not be your email address")
		return
	}
	if min := r.Settings.PasswordMinStrength; min > 0 {
		inputs := []string{u.Email, local, u.FirstName, u.LastName, r.Name, r.DisplayName}
		// The estimate's cost grows with the length; what a guesser
		// faces is decided well within the first 100 characters.
		head := []rune(password)
		if len(head) > 100 {
			head = head[:100]
		}
		if score := zxcvbn.PasswordStrength(string(head), inputs).Score; score < min {
			v.Add("password", "is too easy to guess: use a longer phrase of unrelated words, not names, dates or common passwords")
		}
	}
}

// RealmLogoStore keeps realms' login page logos.
type RealmLogoStore interface {
	// SetRealmLogo stores (replaces) the realm's logo.
	SetRealmLogo(ctx context.Context, realmID, contentType string, data []byte) error
	// DeleteRealmLogo removes it; a realm without one is not an error.
	DeleteRealmLogo(ctx context.Context, realmID string) error
	// GetRealmLogo returns the logo's media type and bytes; ErrNotFound
	// when the realm has none.
	GetRealmLogo(ctx context.Context, realmID string) (string, []byte, error)
}

// MaxLogoBytes and MaxLogoSide bound a logo: a login page needs a small
// picture, and a decoder should not be handed a huge one.
const (
	MaxLogoBytes = 256 << 10
	MaxLogoSide  = 2048
)

// checkLogo names what is wrong with an uploaded logo, or returns its
// media type: PNG or JPEG only, as its bytes say (not a declared type),
// within MaxLogoBytes and MaxLogoSide. SVG is refused: it can carry
// script.
func checkLogo(data []byte) (string, error) {
	switch {
	case len(data) == 0:
		return "", Invalid("logo", "is empty: choose a PNG or JPEG file")
	case len(data) > MaxLogoBytes:
		return "", Invalid("logo", fmt.Sprintf("must be at most %d KiB", MaxLogoBytes>>10))
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "png" && format != "jpeg") {
		return "", Invalid("logo", "must be a PNG or JPEG image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return "", Invalid("logo", fmt.Sprintf("must be at most %d by %d pixels", MaxLogoSide, MaxLogoSide))
	}
	return "image/" + format, nil
}

// SetRealmLogo stores the realm's login page logo (PNG or JPEG); the change
// is a realm.settings_updated event naming branding.logo.
func (s *Service) SetRealmLogo(ctx context.Context, name string, data []byte) (*Realm, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	typ, err := checkLogo(data)
	if err != nil {
		return nil, err
	}
	return s.changeLogo(ctx, a, name, func(tx Store, r *Realm) error {
		r.Settings.LogoType = typ
		return tx.SetRealmLogo(ctx, r.ID, typ, data)
	})
}

// DeleteRealmLogo removes the realm's logo (nothing to remove is no
// change).
func (s *Service) DeleteRealmLogo(ctx context.Context, name string) (*Realm, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	return s.changeLogo(ctx, a, name, func(tx Store, r *Realm) error {
		if r.Settings.LogoType == "" {
			return errNoChange
		}
		r.Settings.LogoType, r.Settings.LogoVersion = "", 0
		return tx.DeleteRealmLogo(ctx, r.ID)
	})
}

// errNoChange ends a change that has nothing to do.
var errNoChange = errors.New("realm: no change")

func (s *Service) changeLogo(ctx context.Context, a access, name string, change func(tx Store, r *Realm) error) (*Realm, error) {
	var r *Realm
	err := s.store.InTx(ctx, func(tx Store) error {
		var err error
		if r, err = a.realm(ctx, tx, name); err != nil {
			return err
		}
		if err := change(tx, r); err != nil {
			return err
		}
		now := s.now()
		if r.Settings.LogoType != "" {
			r.Settings.LogoVersion = now.UnixNano()
		}
		r.UpdatedAt = now
		if err := tx.UpdateRealm(ctx, r); err != nil {
			return err
		}
		d := changed{"branding.logo"}.details()
		d["name"] = r.Name
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventRealmSettingsUpdated, "realm", r.ID, d))
	})
	if errors.Is(err, errNoChange) {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// LogoPath is where the login page finds the realm's logo (served by
// Ward, never an outside URL), "" when it has none; the version in the
// query changes with every upload.
func (r *Realm) LogoPath() string {
	if r.Settings.LogoType == "" {
		return ""
	}
	return fmt.Sprintf("/realms/%s/branding/logo?v=%d", r.Name, r.Settings.LogoVersion)
}
