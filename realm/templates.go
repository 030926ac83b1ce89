package realm

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// SecurityTemplate turns a long-lived API key into short-lived temporary
// keys for browsers and uploaders (CONTRACT §6): a key minted from it can
// do only what the template allows (Permissions), for at most TTLSeconds,
// on resources under DirScope, from addresses in IPRanges and countries in
// Countries, at most LimitPerMinute times a minute in all and
// LimitPerSourceIPPerMinute times a minute per caller address. Everything
// but the lifetime is enforced offline by the resource server's Guard,
// from the claims of the key.
type SecurityTemplate struct {
	ID          string
	RealmID     string
	Name        string
	Description string
	Permissions []string // sorted, each in the realm's catalog
	TTLSeconds  int
	// Nil limits are no limit.
	LimitPerMinute            *int
	LimitPerSourceIPPerMinute *int
	DirScope                  []string // absolute path patterns, "*" only last
	IPRanges                  []string // canonical CIDR prefixes
	Countries                 []string // ISO 3166-1 alpha-2, upper case, sorted
	CreatedAt                 time.Time
	UpdatedAt                 time.Time
}

// TemplateStore keeps the realm's security templates.
type TemplateStore interface {
	// CreateSecurityTemplate inserts t with its permissions, each of which
	// must be in the catalog (ErrNotFound otherwise); a name the realm
	// already has is ErrConflict.
	CreateSecurityTemplate(ctx context.Context, t *SecurityTemplate) error
	GetSecurityTemplate(ctx context.Context, realmID, name string) (*SecurityTemplate, error)
	// ListSecurityTemplates lists all of the realm's templates ordered by
	// name (there are at most MaxSecurityTemplates).
	ListSecurityTemplates(ctx context.Context, realmID string) ([]SecurityTemplate, error)
	CountSecurityTemplates(ctx context.Context, realmID string) (int64, error)
	// UpdateSecurityTemplate saves everything but ID, RealmID, Name and
	// CreatedAt.
	UpdateSecurityTemplate(ctx context.Context, t *SecurityTemplate) error
	DeleteSecurityTemplate(ctx context.Context, realmID, name string) error
	// GetMintRead reads, in one query, what a mint needs: the realm's API
	// key whose secret hashes to keyHash, the realm's template named
	// template and the realm's IP allow list. No such key is ErrNotFound;
	// no such template is a nil Template beside the key.
	GetMintRead(ctx context.Context, realmID string, keyHash []byte, template string) (*MintRead, error)
	// DeactivatedAPIKeys lists the realm's inactive API keys changed at or
	// after since, most recently changed first (then by ID), at most
	// limit: the keys whose temporary keys may still be alive (see
	// DeactivatedKeysWindow).
	DeactivatedAPIKeys(ctx context.Context, realmID string, since time.Time, limit int) ([]DeactivatedKey, error)
}

// MintRead is what a mint reads in its one query (TemplateStore.GetMintRead).
type MintRead struct {
	Key              *APIKey
	Template         *SecurityTemplate // nil: the realm has no such template
	RealmIPAllowList []string
}

// Bounds of templates and of what they put in a key. A temporary key
// travels in a request header, so its claims must stay well under the
// 8 KiB that proxies commonly allow for one header.
const (
	MaxSecurityTemplates  = 200 // per realm
	MinTemplateTTL        = 60
	MaxTemplateTTL        = 86400
	DefaultTemplateTTL    = 1200
	MaxTemplateLimit      = 1_000_000 // requests a minute
	MaxDirScopePatterns   = 50
	maxDirScopePatternLen = 512
	MaxIPRanges           = 100
	// maxTemplateClaimBytes bounds the lists a key carries, together.
	maxTemplateClaimBytes = 4096
)

// DeactivatedKeysWindow is how long a deactivated API key stays in the
// realm's policy document: a temporary key lives at most MaxTemplateTTL
// and is minted only while its API key is active, so after that no key it
// minted can be alive — but a Guard tolerates clock skew past exp (its
// leeway, up to minutes) and Ward's nodes' clocks differ too, hence an
// hour more. The window is counted from the key's last change, which is
// at or after its deactivation.
const DeactivatedKeysWindow = MaxTemplateTTL*time.Second + time.Hour

// DeactivatedKey is an inactive API key and its last change.
type DeactivatedKey struct {
	ID        string
	UpdatedAt time.Time
}

// DeactivatedKeys is what the policy document says about deactivated API
// keys: their IDs (sorted), and, when there were more than
// MaxDeactivatedKeysListed, a time up to which every temporary key must be
// refused (MintedUntil), since the keys left out were deactivated no
// later than that.
type DeactivatedKeys struct {
	IDs         []string
	MintedUntil *time.Time
}

// MaxDeactivatedKeysListed bounds the policy document's list.
const MaxDeactivatedKeysListed = 10_000

// templateNamePattern: names appear in URLs and in the mint request.
var templateNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// SecurityTemplateInput creates a template. A nil TTLSeconds is the default
// (1200 s); nil limits are no limit.
type SecurityTemplateInput struct {
	Name                      string
	Description               string
	Permissions               []string
	TTLSeconds                *int
	LimitPerMinute            *int
	LimitPerSourceIPPerMinute *int
	DirScope                  []string
	IPRanges                  []string
	Countries                 []string
}

// LimitChange sets a per-minute limit; a nil Limit removes it.
type LimitChange struct {
	Limit *int
}

// SecurityTemplatePatch changes a template; nil fields stay as they are.
// The name does not change: it is what backends mint with.
type SecurityTemplatePatch struct {
	Description               *string
	Permissions               *[]string
	TTLSeconds                *int
	LimitPerMinute            *LimitChange
	LimitPerSourceIPPerMinute *LimitChange
	DirScope                  *[]string
	IPRanges                  *[]string
	Countries                 *[]string
}

// ListSecurityTemplates lists the realm's templates by name.
func (s *Service) ListSecurityTemplates(ctx context.Context, realmName string) ([]SecurityTemplate, error) {
	return readInRealm(ctx, s, realmName, func(r *Realm) ([]SecurityTemplate, error) {
		return s.store.ListSecurityTemplates(ctx, r.ID)
	})
}

// GetSecurityTemplate returns one template.
func (s *Service) GetSecurityTemplate(ctx context.Context, realmName, name string) (*SecurityTemplate, error) {
	return readInRealm(ctx, s, realmName, func(r *Realm) (*SecurityTemplate, error) {
		return s.store.GetSecurityTemplate(ctx, r.ID, name)
	})
}

// CreateSecurityTemplate adds a template; every field is checked and each
// bad one named.
func (s *Service) CreateSecurityTemplate(ctx context.Context, realmName string, in SecurityTemplateInput) (*SecurityTemplate, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	t := &SecurityTemplate{Name: strings.TrimSpace(in.Name), TTLSeconds: DefaultTemplateTTL}
	switch {
	case t.Name == "":
		v.Add("name", "is required")
	case !templateNamePattern.MatchString(t.Name):
		v.Add("name", "must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit")
	}
	t.Description = optionalText(v, "description", in.Description, maxDescriptionLen)
	if in.TTLSeconds != nil {
		t.TTLSeconds = checkTTL(v, *in.TTLSeconds)
	}
	t.LimitPerMinute = checkLimit(v, "limit_per_minute", in.LimitPerMinute)
	t.LimitPerSourceIPPerMinute = checkLimit(v, "limit_per_source_ip_per_minute", in.LimitPerSourceIPPerMinute)
	t.DirScope = CheckDirScope(v, in.DirScope)
	t.IPRanges = CheckIPRanges(v, "ip_ranges", in.IPRanges)
	t.Countries = CheckCountries(v, in.Countries)
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		catalog, err := tx.ListPermissions(ctx, r.ID)
		if err != nil {
			return err
		}
		v := &ValidationError{}
		t.Permissions = checkKeyPermissions(v, in.Permissions, catalog)
		checkTemplateSize(v, t)
		if err := v.OrNil(); err != nil {
			return err
		}
		n, err := tx.CountSecurityTemplates(ctx, r.ID)
		if err != nil {
			return err
		}
		if n >= MaxSecurityTemplates {
			return Conflict("name", fmt.Sprintf("a realm has at most %d security templates; delete unused ones first", MaxSecurityTemplates))
		}
		now := s.now()
		t.ID, t.RealmID, t.CreatedAt, t.UpdatedAt = NewID(now, s.random), r.ID, now, now
		if err := tx.CreateSecurityTemplate(ctx, t); err != nil {
			return asConflict(err, "name", fmt.Sprintf("the security template %q already exists", t.Name))
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventSecurityTemplateCreated, "security_template", t.ID,
			map[string]any{"name": t.Name, "permissions": t.Permissions}))
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// UpdateSecurityTemplate changes a template. Keys already minted keep the
// rules they were minted with until they expire.
func (s *Service) UpdateSecurityTemplate(ctx context.Context, realmName, name string, patch SecurityTemplatePatch) (*SecurityTemplate, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	// Each field is checked before anything is read, so bad input is a
	// 400 whether or not the template exists.
	v := &ValidationError{}
	var (
		desc                          string
		ttl                           int
		limit, perIP                  *int
		dirScope, ipRanges, countries []string
	)
	if patch.Description != nil {
		desc = optionalText(v, "description", *patch.Description, maxDescriptionLen)
	}
	if patch.TTLSeconds != nil {
		ttl = checkTTL(v, *patch.TTLSeconds)
	}
	if patch.LimitPerMinute != nil {
		limit = checkLimit(v, "limit_per_minute", patch.LimitPerMinute.Limit)
	}
	if patch.LimitPerSourceIPPerMinute != nil {
		perIP = checkLimit(v, "limit_per_source_ip_per_minute", patch.LimitPerSourceIPPerMinute.Limit)
	}
	if patch.DirScope != nil {
		dirScope = CheckDirScope(v, *patch.DirScope)
	}
	if patch.IPRanges != nil {
		ipRanges = CheckIPRanges(v, "ip_ranges", *patch.IPRanges)
	}
	if patch.Countries != nil {
		countries = CheckCountries(v, *patch.Countries)
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	var t *SecurityTemplate
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		if t, err = tx.GetSecurityTemplate(ctx, r.ID, name); err != nil {
			return err
		}
		before := *t
		var changed []string
		change := func(field string, differs bool, apply func()) {
			if differs {
				apply()
				changed = append(changed, field)
			}
		}
		if patch.Description != nil {
			change("description", desc != t.Description, func() { t.Description = desc })
		}
		if patch.Permissions != nil {
			catalog, err := tx.ListPermissions(ctx, r.ID)
			if err != nil {
				return err
			}
			v := &ValidationError{}
			perms := checkKeyPermissions(v, *patch.Permissions, catalog)
			if err := v.OrNil(); err != nil {
				return err
			}
			change("permissions", !slices.Equal(perms, t.Permissions), func() { t.Permissions = perms })
		}
		if patch.TTLSeconds != nil {
			change("ttl_seconds", ttl != t.TTLSeconds, func() { t.TTLSeconds = ttl })
		}
		if patch.LimitPerMinute != nil {
			change("limit_per_minute", !sameLimit(limit, t.LimitPerMinute), func() { t.LimitPerMinute = limit })
		}
		if patch.LimitPerSourceIPPerMinute != nil {
			change("limit_per_source_ip_per_minute", !sameLimit(perIP, t.LimitPerSourceIPPerMinute),
				func() { t.LimitPerSourceIPPerMinute = perIP })
		}
		if patch.DirScope != nil {
			change("dir_scope", !slices.Equal(dirScope, t.DirScope), func() { t.DirScope = dirScope })
		}
		if patch.IPRanges != nil {
			change("ip_ranges", !slices.Equal(ipRanges, t.IPRanges), func() { t.IPRanges = ipRanges })
		}
		if patch.Countries != nil {
			change("countries", !slices.Equal(countries, t.Countries), func() { t.Countries = countries })
		}
		if len(changed) == 0 {
			return nil
		}
		v := &ValidationError{}
		checkTemplateSize(v, t)
		if err := v.OrNil(); err != nil {
			*t = before
			return err
		}
		t.UpdatedAt = s.now()
		if err := tx.UpdateSecurityTemplate(ctx, t); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventSecurityTemplateUpdated, "security_template", t.ID,
			map[string]any{"name": t.Name, "changed": changed}))
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// DeleteSecurityTemplate removes a template. Keys minted from it stay valid
// until they expire: they carry their rules with them.
func (s *Service) DeleteSecurityTemplate(ctx context.Context, realmName, name string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		t, err := tx.GetSecurityTemplate(ctx, r.ID, name)
		if err != nil {
			return err
		}
		if err := tx.DeleteSecurityTemplate(ctx, r.ID, t.Name); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventSecurityTemplateDeleted, "security_template", t.ID,
			map[string]any{"name": t.Name}))
	})
}

// DeactivatedAPIKeys lists the realm's API keys whose temporary keys
// resource servers must refuse: those deactivated within
// DeactivatedKeysWindow (CONTRACT §6). It serves the policy document.
// Beyond MaxDeactivatedKeysListed the most recent are listed and the rest
// are covered by MintedUntil, failing closed: every temporary key minted
// by then is refused, whichever key minted it.
func (s *Service) DeactivatedAPIKeys(ctx context.Context, realmID string) (DeactivatedKeys, error) {
	max := s.deactivatedKeysListed
	list, err := s.store.DeactivatedAPIKeys(ctx, realmID, s.now().Add(-DeactivatedKeysWindow), max+1)
	if err != nil {
		return DeactivatedKeys{}, err
	}
	var out DeactivatedKeys
	if len(list) > max {
		// The newest key left out was deactivated at or before its last
		// change, and minted only before its deactivation.
		until := list[max].UpdatedAt
		out.MintedUntil = &until
		list = list[:max]
	}
	out.IDs = make([]string, len(list))
	for i, k := range list {
		out.IDs[i] = k.ID
	}
	slices.Sort(out.IDs)
	return out, nil
}

func checkTTL(v *ValidationError, ttl int) int {
	if ttl < MinTemplateTTL || ttl > MaxTemplateTTL {
		v.Add("ttl_seconds", fmt.Sprintf("must be between %d and %d seconds", MinTemplateTTL, MaxTemplateTTL))
	}
	return ttl
}

func checkLimit(v *ValidationError, field string, limit *int) *int {
	if limit == nil {
		return nil
	}
	if *limit < 1 || *limit > MaxTemplateLimit {
		v.Add(field, fmt.Sprintf("must be null (no limit) or between 1 and %d requests a minute", MaxTemplateLimit))
		return nil
	}
	n := *limit
	return &n
}

func sameLimit(a, b *int) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// CheckDirScope checks dir_scope patterns: absolute paths of clean
// segments ("." and ".." would let a pattern mean something else than it
// reads), "*" only as the last character, where it matches any rest of a
// path. Duplicates are dropped; the order is kept.
func CheckDirScope(v *ValidationError, patterns []string) []string {
	if len(patterns) > MaxDirScopePatterns {
		v.Add("dir_scope", fmt.Sprintf("must have at most %d patterns", MaxDirScopePatterns))
		return nil
	}
	out := make([]string, 0, len(patterns))
	for i, p := range patterns {
		field := fmt.Sprintf("dir_scope[%d]", i)
		if why := dirScopeProblem(p); why != "" {
			v.Add(field, why)
			continue
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func dirScopeProblem(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "must be an absolute path starting with /"
	case len(p) > maxDirScopePatternLen:
		return fmt.Sprintf("must be at most %d characters", maxDirScopePatternLen)
	case strings.ContainsAny(p, "\\?#") || hasControl(p):
		return "must not contain \\, ?, # or control characters"
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return "may contain * only as its last character (it matches any rest of the path)"
	}
	segs := strings.Split(strings.TrimSuffix(p[1:], "*"), "/")
	for i, s := range segs {
		switch {
		case s == "." || s == "..":
			return "must not contain . or .. segments"
		case s == "" && i < len(segs)-1:
			return "must not contain empty segments (//)"
		}
	}
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		// Paths do not end with a slash, so this would match nothing.
		return fmt.Sprintf("must not end with /: write %s* for everything under %s", p, strings.TrimSuffix(p, "/"))
	}
	return ""
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// CheckIPRanges checks CIDR prefixes, IPv4 or IPv6, and returns them in
// canonical form without duplicates. A prefix with address bits set beyond
// its length (203.0.113.7/24) is refused with the prefix it probably
// means, rather than silently widened or narrowed.
func CheckIPRanges(v *ValidationError, field string, cidrs []string) []string {
	return checkCIDRs(v, field, cidrs, MaxIPRanges)
}

// checkCIDRs is CheckIPRanges with its bound: at most max prefixes.
func checkCIDRs(v *ValidationError, field string, cidrs []string, max int) []string {
	if len(cidrs) > max {
		v.Add(field, fmt.Sprintf("must have at most %d ranges", max))
		return nil
	}
	out := make([]string, 0, len(cidrs))
	for i, c := range cidrs {
		f := fmt.Sprintf("%s[%d]", field, i)
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			hint := ""
			if a, aerr := netip.ParseAddr(strings.TrimSpace(c)); aerr == nil {
				hint = fmt.Sprintf("; for one address write %s", netip.PrefixFrom(a, a.BitLen()))
			}
			v.Add(f, fmt.Sprintf("%s is not a CIDR range such as 203.0.113.0/24 or 2001:db8::/32%s", clipQuote(c), hint))
			continue
		}
		if p.Addr().Zone() != "" {
			v.Add(f, "must not have an IPv6 zone")
			continue
		}
		if p.Addr().Is4In6() {
			// Addresses are compared as IPv4 (unmapped), so such a
			// prefix would match nothing.
			hint := "write the IPv4 prefix instead"
			if p.Bits() >= 96 {
				hint = fmt.Sprintf("write %s", netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked())
			}
			v.Add(f, "is an IPv4-mapped IPv6 prefix, which no client address matches; "+hint)
			continue
		}
		if m := p.Masked(); m != p {
			v.Add(f, fmt.Sprintf("has address bits set beyond the prefix length; did you mean %s?", m))
			continue
		}
		if s := p.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// CheckCountries checks ISO 3166-1 alpha-2 codes (either case; stored upper
// case, sorted, without duplicates).
func CheckCountries(v *ValidationError, codes []string) []string {
	if len(codes) > len(isoCountries)/3+1 {
		v.Add("countries", "lists more codes than there are countries")
		return nil
	}
	out := make([]string, 0, len(codes))
	for i, c := range codes {
		u := strings.ToUpper(strings.TrimSpace(c))
		if !IsCountryCode(u) {
			v.Add(fmt.Sprintf("countries[%d]", i), fmt.Sprintf("%s is not an ISO 3166-1 alpha-2 country code", clipQuote(c)))
			continue
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// IsCountryCode reports whether code is an officially assigned ISO 3166-1
// alpha-2 code, in upper case.
func IsCountryCode(code string) bool {
	if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
		return false
	}
	for i := 0; i+2 <= len(isoCountries); i += 3 {
		if isoCountries[i:i+2] == code {
			return true
		}
	}
	return false
}

// isoCountries holds the officially assigned ISO 3166-1 alpha-2 codes,
// space separated.
const isoCountries = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"

// checkTemplateSize keeps the lists a key carries within
// maxTemplateClaimBytes, naming the largest list when they are not.
func checkTemplateSize(v *ValidationError, t *SecurityTemplate) {
	sizes := map[string]int{
		"permissions": listBytes(t.Permissions),
		"dir_scope":   listBytes(t.DirScope),
		"ip_ranges":   listBytes(t.IPRanges),
		"countries":   listBytes(t.Countries),
	}
	total, largest := 0, "permissions"
	for f, n := range sizes {
		total += n
		if n > sizes[largest] || n == sizes[largest] && f < largest {
			largest = f
		}
	}
	if total > maxTemplateClaimBytes {
		v.Add(largest, fmt.Sprintf("the template's permissions, dir_scope, ip_ranges and countries take %d bytes in every key; at most %d fit in a request header", total, maxTemplateClaimBytes))
	}
}

// listBytes is about what a list costs in a key's JSON claims.
func listBytes(l []string) int {
	n := 0
	for _, s := range l {
		n += len(s) + 3
	}
	return n
}

// TemporaryKeyGrant is what a mint may sign: the template's rules, for
// the key's realm, from IssuedAt to ExpiresAt. APIKeyID is the minting
// key's id ("" for a test key minted from the console).
type TemporaryKeyGrant struct {
	// ID is the key's jti: known before it is signed, so that an audit
	// event can name it.
	ID        string
	Template  *SecurityTemplate
	APIKeyID  string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// CheckMint decides whether key may mint from t for ttlSeconds (nil: the
// template's TTL) at now. The key must be usable (an unauthenticated error
// naming why otherwise) and hold every permission the template grants (a
// forbidden error naming the first it lacks); ttlSeconds may not exceed
// the template's. The key expires with its API key at the latest.
func CheckMint(key *APIKey, t *SecurityTemplate, ttlSeconds *int, now time.Time) (*TemporaryKeyGrant, error) {
	if why := key.Usable(now); why != "" {
		return nil, fmt.Errorf("%w: %s", ErrUnauthenticated, why)
	}
	for _, p := range t.Permissions {
		if !slices.Contains(key.Permissions, p) {
			return nil, &ForbiddenError{Reason: fmt.Sprintf("the API key lacks the permission %s that the template %s grants", p, t.Name)}
		}
	}
	g, err := grantFor(t, ttlSeconds, now)
	if err != nil {
		return nil, err
	}
	g.APIKeyID = key.ID
	if key.ExpiresAt != nil && key.ExpiresAt.Before(g.ExpiresAt) {
		g.ExpiresAt = *key.ExpiresAt
	}
	return g, nil
}

// maxTestKeyTTL bounds a test key minted from the console: no API key
// stands behind it, so nothing but its expiry can stop it.
const maxTestKeyTTL = 600

// CheckTestMint authorizes a test key of the template for the console: an
// admin of the realm may mint one, for at most ten minutes, and it is an
// audit event.
func (s *Service) CheckTestMint(ctx context.Context, realmName, templateName string) (*Realm, *TemporaryKeyGrant, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, nil, err
	}
	var r *Realm
	var g *TemporaryKeyGrant
	err = s.store.InTx(ctx, func(tx Store) error {
		if r, err = a.realm(ctx, tx, realmName); err != nil {
			return err
		}
		t, err := tx.GetSecurityTemplate(ctx, r.ID, templateName)
		if err != nil {
			return err
		}
		ttl := min(t.TTLSeconds, maxTestKeyTTL)
		if g, err = grantFor(t, &ttl, s.now()); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventSecurityTemplateTestKeyMinted, "security_template", t.ID,
			map[string]any{"name": t.Name, "jti": g.ID, "expires_at": g.ExpiresAt.UTC().Format(time.RFC3339)}))
	})
	if err != nil {
		return nil, nil, err
	}
	return r, g, nil
}

func grantFor(t *SecurityTemplate, ttlSeconds *int, now time.Time) (*TemporaryKeyGrant, error) {
	ttl := t.TTLSeconds
	if ttlSeconds != nil {
		if *ttlSeconds < 1 || *ttlSeconds > t.TTLSeconds {
			return nil, Invalid("ttl_seconds", fmt.Sprintf("must be between 1 and the template's %d seconds", t.TTLSeconds))
		}
		ttl = *ttlSeconds
	}
	now = now.Truncate(time.Second)
	return &TemporaryKeyGrant{ID: NewID(now, nil), Template: t, IssuedAt: now, ExpiresAt: now.Add(time.Duration(ttl) * time.Second)}, nil
}
