package realm

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on free-text fields. They keep rows and tokens small; nothing in
// the product needs longer values.
const (
	maxNameLen        = 200  // person names, group, client and display names
	maxDescriptionLen = 2000 // descriptions
	maxEmailLen       = 254  // RFC 5321 path limit
	maxAudienceLen    = 200
	maxURILen         = 2000
	maxGraceSeconds   = 86400
	defaultPageLimit  = 50
	maxPageLimit      = 200
)

var (
	// realmNamePattern is also the org slug rule: both appear in URLs and
	// token issuers, so they stay lowercase and path-safe.
	realmNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	clientIDPattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{3,64}$`)
	reservedRealms   = map[string]bool{ConsoleRealm: true, "admin": true, "master": true}
)

// nameRule says in words what realmNamePattern accepts (realm names and
// organization slugs).
const nameRule = "must be 2 to 63 characters: lower-case letters, digits and hyphens, starting with a letter or digit"

// checkRealmName reports what is wrong with a realm name, or "".
func checkRealmName(name string) string {
	if name == "" {
		return "is required"
	}
	if !realmNamePattern.MatchString(name) {
		return nameRule
	}
	if reservedRealms[name] {
		return fmt.Sprintf("%q is reserved", name)
	}
	return ""
}

// checkEmail accepts a bare address (no display name, no angle brackets),
// as net/mail parses it.
func checkEmail(v *ValidationError, field, email string) {
	if email == "" {
		v.Add(field, "is required")
		return
	}
	if len(email) > maxEmailLen {
		v.Add(field, fmt.Sprintf("must be at most %d characters", maxEmailLen))
		return
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		v.Add(field, "must be a plain email address such as name@example.com")
	}
}

// requiredName trims s and checks it is present and short enough.
func requiredName(v *ValidationError, field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		v.Add(field, "is required")
	} else if utf8.RuneCountInString(s) > maxNameLen {
		v.Add(field, fmt.Sprintf("must be at most %d characters", maxNameLen))
	}
	return s
}

// optionalText trims s and checks its length.
func optionalText(v *ValidationError, field, s string, max int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		v.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
	return s
}

func checkRole(v *ValidationError, field string, r Role) {
	if !r.Valid() {
		v.Add(field, "must be one of owner, admin, viewer")
	}
}

// pageLimit applies the list default and range.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return defaultPageLimit, nil
	case limit < 0 || limit > maxPageLimit:
		return 0, Invalid("limit", fmt.Sprintf("must be between 1 and %d", maxPageLimit))
	}
	return limit, nil
}

func pageOptions(o ListOptions) (ListOptions, error) {
	l, err := pageLimit(o.Limit)
	o.Limit = l
	if err != nil {
		return o, err
	}
	return o, checkQuery(o.Query)
}

// checkGraceSeconds bounds the rotation grace.
func checkGraceSeconds(g int) error {
	if g < 0 || g > maxGraceSeconds {
		return Invalid("grace_seconds", fmt.Sprintf("must be between 0 and %d", maxGraceSeconds))
	}
	return nil
}

// checkAudience: non-empty strings, short, no duplicates.
func checkAudience(v *ValidationError, aud []string) {
	seen := make(map[string]bool, len(aud))
	for i, a := range aud {
		field := fmt.Sprintf("audience[%d]", i)
		switch {
		case strings.TrimSpace(a) == "":
			v.Add(field, "must not be empty")
		case strings.ContainsFunc(a, unicode.IsSpace):
			// The token request names audiences space-separated.
			v.Add(field, "must not contain white space")
		case utf8.RuneCountInString(a) > maxAudienceLen:
			v.Add(field, fmt.Sprintf("must be at most %d characters", maxAudienceLen))
		case seen[a]:
			v.Add(field, "is a duplicate")
		}
		seen[a] = true
	}
}

// isLoopback reports whether host names this machine, where plain http is
// acceptable (native and development apps).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkRedirectURIs: absolute, no fragment (RFC 6749 §3.1.2), https or
// loopback http; compared exactly at the authorization endpoint, so they are
// stored as given.
func checkRedirectURIs(v *ValidationError, uris []string, public bool) {
	seen := make(map[string]bool, len(uris))
	for i, raw := range uris {
		field := fmt.Sprintf("redirect_uris[%d]", i)
		if msg := redirectURIProblem(raw, public); msg != "" {
			v.Add(field, msg)
		} else if seen[raw] {
			v.Add(field, "is a duplicate")
		}
		seen[raw] = true
	}
}

func redirectURIProblem(raw string, public bool) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > maxURILen {
		return fmt.Sprintf("must be at most %d characters", maxURILen)
	}
	if strings.Contains(raw, "*") {
		// Compared exactly: a * would only ever match itself.
		return "wildcards are not supported; list each URI"
	}
	u, err := url.Parse(raw)
	if err == nil && IsPrivateUseScheme(u.Scheme) {
		switch {
		case !public:
			return "a private-use scheme such as com.example.app:/callback is for native apps, which are public clients: make the application public, or use https"
		case u.Opaque != "" || !strings.HasPrefix(u.Path, "/") && u.Host == "":
			return "must be written like com.example.app:/callback (the scheme, a colon, then a path)"
		case u.Fragment != "" || strings.Contains(raw, "#"):
			return "must not have a fragment"
		case u.User != nil:
			return "must not contain user information"
		}
		return ""
	}
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "must be an absolute URL such as https://app.example.com/callback"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment"
	}
	if u.User != nil {
		return "must not contain user information"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "must use https (http only for localhost and loopback addresses)"
		}
	default:
		if public {
			return "must use https, http on a loopback address, or a private-use scheme such as com.example.app:/callback"
		}
		return "must use https (http only for localhost and loopback addresses)"
	}
	return ""
}

// IsPrivateUseScheme reports whether scheme is a private-use URI scheme
// as native apps use for their redirect URIs (RFC 8252 §7.1): a reverse
// domain name of the app's, so it has a period; never http or https.
func IsPrivateUseScheme(scheme string) bool {
	return strings.Contains(scheme, ".") && !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https")
}

// RedirectURIRegistered reports whether requested is one of c's redirect
// URIs. They are compared exactly, except that a public client's loopback
// IP redirect URI (http://127.0.0.1/… or http://[::1]/…) matches on any
// port (RFC 8252 §7.3: a native app listens on whatever port it gets).
// "localhost" is compared exactly: RFC 8252 §8.3 advises against it, and
// its resolution is not the server's to know.
func (c *Client) RedirectURIRegistered(requested string) bool {
	if requested == "" {
		return false
	}
	if slices.Contains(c.RedirectURIs, requested) {
		return true
	}
	if !c.Public {
		return false
	}
	req, err := url.Parse(requested)
	if err != nil || req.Scheme != "http" || !isLoopbackIP(req.Hostname()) || req.User != nil || req.Fragment != "" {
		return false
	}
	for _, r := range c.RedirectURIs {
		reg, err := url.Parse(r)
		if err == nil && reg.Scheme == "http" && reg.Hostname() == req.Hostname() && reg.EscapedPath() == req.EscapedPath() &&
			reg.RawQuery == req.RawQuery && reg.User == nil {
			return true
		}
	}
	return false
}

// isLoopbackIP reports whether host is a loopback IP literal.
func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkWebOrigins: scheme://host[:port] only, as browsers send in Origin.
// It returns the origins in serialized form (OriginOf: lower-case scheme
// and host, no default port), which is what the callers store: CORS and
// the web_message page compare origins as browsers serialize them, so
// "https://App.Example.com:443" must be kept as "https://app.example.com"
// or it would never match. Entries that are the same origin written
// differently are duplicates. The input is not changed.
func checkWebOrigins(v *ValidationError, origins []string) []string {
	if origins == nil {
		return nil
	}
	out := make([]string, len(origins))
	seen := make(map[string]bool, len(origins))
	for i, raw := range origins {
		out[i] = raw
		field := fmt.Sprintf("web_origins[%d]", i)
		if msg := originProblem(raw); msg != "" {
			v.Add(field, msg)
			continue
		}
		o := OriginOf(raw)
		if seen[o] {
			v.Add(field, "is a duplicate")
		}
		seen[o] = true
		out[i] = o
	}
	return out
}

func originProblem(raw string) string {
	const want = "must be an origin such as https://app.example.com (scheme, host and optional port, no path)"
	if raw == "" {
		return "must not be empty"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		strings.ContainsAny(raw, "?#") || OriginOf(raw) == "" {
		return want
	}
	return ""
}

// OriginOf is the origin of an http(s) URL serialized as browsers do
// (RFC 6454 §6.1, and what they send in Origin and report as
// MessageEvent.origin): lower-case scheme and host, the port only when it
// is not the scheme's default. Any other URL, one with user information,
// or one with a port outside 1–65535 gives "" (custom schemes have an
// opaque origin). It is the one comparison of origins in Ward: web
// origins are stored in this form, and the CORS check and the
// web_message page both compare through it.
func OriginOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return ""
		}
		port = strconv.Itoa(n) // browsers drop leading zeros
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

// clientIDEncoding is lowercase base32 so generated client_ids are easy to
// read aloud and safe in URLs.
var clientIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newClientID returns 16 random lowercase base32 characters (80 bits).
func newClientID(random io.Reader) string {
	if random == nil {
		random = rand.Reader
	}
	var b [10]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		panic("realm: random source failed: " + err.Error())
	}
	return clientIDEncoding.EncodeToString(b[:])
}

// asConflict turns a store's unique-constraint error into a ConflictError
// naming field, keeping every other error as it is.
func asConflict(err error, field, reason string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrConflict) {
		var ce *ConflictError
		if errors.As(err, &ce) && ce.Field == field {
			return err
		}
		return Conflict(field, reason)
	}
	return err
}
