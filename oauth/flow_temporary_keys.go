package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// Minting temporary keys (CONTRACT §6): a backend holding an API key asks
// for a short-lived key made from one of the realm's security templates and
// hands it to a browser widget or an uploader. The key is a JWS signed with
// the realm's ES256 key and carries every rule of the template, so resource
// servers enforce it offline; Ward keeps nothing of it.
//
// The endpoint speaks JSON with problem answers (CONTRACT §2), like the
// admin API, not RFC 6749 errors: it is not an OAuth grant.

const (
	pathTemporaryKeys = "/temporary-keys"
	// TemporaryKeyType is the JWS typ of a temporary key: an access-token
	// verifier (typ at+jwt) refuses it, and the Guard accepts nothing else
	// in its place.
	TemporaryKeyType = "ward-tk+jwt"
	// maxMintBody bounds the request: a template name and a number.
	maxMintBody = 4 << 10
)

// defaultMintRate bounds the mints of one API key on one node: far above
// what a backend minting a key per page view of a busy site needs, and
// still a stop for a leaked key used to mint in a loop.
var defaultMintRate = RateLimit{Rate: 500, Burst: 5000}

// MintedKey is a signed temporary key and what the answer says of it.
type MintedKey struct {
	Key         string    `json:"key"`
	ExpiresAt   time.Time `json:"expires_at"`
	Permissions []string  `json:"permissions"`
	Template    string    `json:"template"`
}

type mintRequest struct {
	Template   string `json:"template"`
	TTLSeconds *int   `json:"ttl_seconds"`
}

// problem is an RFC 9457 answer, shaped as the admin API's.
type problem struct {
	Type   string             `json:"type"`
	Title  string             `json:"title"`
	Status int                `json:"status"`
	Detail string             `json:"detail,omitempty"`
	Errors []realm.FieldError `json:"errors,omitempty"`
}

func writeProblem(c echo.Context, status int, kind, detail string, fields ...realm.FieldError) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set(echo.HeaderContentType, "application/problem+json")
	if status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		// As every other 503 of Ward's: the database is away, come back soon.
		h.Set("Retry-After", "1")
	}
	c.Response().WriteHeader(status)
	return json.NewEncoder(c.Response()).Encode(problem{Type: "urn:ward:problem:" + kind,
		Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields})
}

func (s *Server) handleMintTemporaryKey(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	// The cached provider, as at the token endpoint: a mint signs only
	// after finding an API key row of this realm's ID, which a deleted
	// (or re-created) realm no longer has.
	p, err := s.providers.get(ctx, c.Param("realm"))
	if errors.Is(err, ErrRealmNotFound) {
		return writeProblem(c, http.StatusNotFound, "not-found", "no such realm")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "oauth: realm provider unavailable", "realm", c.Param("realm"), "err", err)
		return writeProblem(c, http.StatusServiceUnavailable, "unavailable", "the realm cannot be served right now")
	}
	now := s.clock()
	ip := s.proxies.ClientIP(req)
	// Refused mints (unknown or unusable keys) are charged to the address,
	// as refused token requests are: guessing keys here costs as much.
	if d := s.tokenIPs.Over(ip, now); d > 0 {
		c.Response().Header().Set("Retry-After", RetryAfter(d))
		return writeProblem(c, http.StatusTooManyRequests, "rate-limited", "too many refused requests from this address; try again later")
	}
	secret := req.Header.Get("X-API-Key")
	if secret == "" {
		c.Response().Header().Set("WWW-Authenticate", `APIKey realm="`+p.realm.Name+`"`)
		return writeProblem(c, http.StatusUnauthorized, "unauthenticated", "an API key is required in the X-API-Key header")
	}
	in, perr := readMintRequest(req)
	if perr != nil {
		return writeProblem(c, perr.status, perr.kind, perr.detail, perr.fields...)
	}
	read, refusal, err := s.findMintingKey(ctx, p, secret, in.Template, now)
	if err != nil {
		s.logServerError(ctx, p, "temporary-keys", err)
		return writeProblem(c, http.StatusServiceUnavailable, "unavailable", "the key cannot be checked right now")
	}
	if refusal != "" {
		s.tokenIPs.Spend(ip, now)
		c.Response().Header().Set("WWW-Authenticate", `APIKey realm="`+p.realm.Name+`", error="invalid_key"`)
		return writeProblem(c, http.StatusUnauthorized, "unauthenticated", refusal)
	}
	key, t := read.Key, read.Template
	// The realm's allow list, for the backend's address (a key is in no
	// group). Charged like a refused key: it is a refused request.
	if ctx := withClientAddr(ctx, ip); !networkAllows(ctx, read.RealmIPAllowList, nil) {
		s.networkRefusal(ctx, p, "api_key", key.ID, "temporary_key_mint")
		s.tokenIPs.Spend(ip, now)
		return writeProblem(c, http.StatusForbidden, "forbidden", "requests from this network are not allowed")
	}
	if d := s.mintKeys.Wait(p.realm.ID+"\x00"+key.ID, now); d > 0 {
		c.Response().Header().Set("Retry-After", RetryAfter(d))
		return writeProblem(c, http.StatusTooManyRequests, "rate-limited", "this API key mints too many temporary keys; try again later")
	}
	// Minting is a use of the key (last_used_at, to the minute).
	s.touchAPIKey(ctx, p, key, now)
	if t == nil {
		return writeProblem(c, http.StatusNotFound, "not-found", "the realm has no security template "+quoteName(in.Template),
			realm.FieldError{Field: "template", Message: "is not a security template of the realm"})
	}
	grant, err := realm.CheckMint(key, t, in.TTLSeconds, now)
	if err != nil {
		return mintRefusal(c, err)
	}
	minted, err := p.signTemporaryKey(ctx, grant)
	if err != nil {
		s.logServerError(ctx, p, "temporary-keys", err)
		return writeProblem(c, http.StatusServiceUnavailable, "unavailable", "the key cannot be signed right now")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, minted)
}

// mintRefusal answers CheckMint's refusals.
func mintRefusal(c echo.Context, err error) error {
	var verr *realm.ValidationError
	var ferr *realm.ForbiddenError
	switch {
	case errors.As(err, &verr):
		return writeProblem(c, http.StatusBadRequest, "validation", "the request has invalid fields", verr.Listed()...)
	case errors.As(err, &ferr):
		return writeProblem(c, http.StatusForbidden, "forbidden", ferr.Reason)
	case errors.Is(err, realm.ErrUnauthenticated):
		return writeProblem(c, http.StatusUnauthorized, "unauthenticated", strings.TrimPrefix(err.Error(), realm.ErrUnauthenticated.Error()+": "))
	}
	return writeProblem(c, http.StatusForbidden, "forbidden", "the API key may not mint from this template")
}

type requestProblem struct {
	status       int
	kind, detail string
	fields       []realm.FieldError
}

// readMintRequest reads the JSON body: {"template", "ttl_seconds"?}, no
// other field, valid text.
func readMintRequest(req *http.Request) (*mintRequest, *requestProblem) {
	var in mintRequest
	typeErr, malformed, p := readJSONBody(req, maxMintBody, &in)
	if p != nil {
		return nil, p
	}
	if typeErr != nil && (typeErr.Field == "template" || typeErr.Field == "ttl_seconds") {
		msg := "must be a string: the name of a security template"
		if typeErr.Field == "ttl_seconds" {
			msg = "must be a whole number of seconds, at most the template's ttl_seconds"
		}
		return nil, &requestProblem{status: http.StatusBadRequest, kind: "validation", detail: "the request has invalid fields",
			fields: []realm.FieldError{{Field: typeErr.Field, Message: msg}}}
	}
	if malformed {
		return nil, &requestProblem{status: http.StatusBadRequest, kind: "malformed-request",
			detail: `the body must be one JSON object {"template": name, "ttl_seconds"?: number} with no other field`}
	}
	v := &realm.ValidationError{}
	switch {
	case in.Template == "":
		v.Add("template", "is required: the name of a security template")
	case len(in.Template) > 63 || realm.TextProblem(in.Template, false) != "":
		v.Add("template", "is not a security template name")
	}
	if in.TTLSeconds != nil && (*in.TTLSeconds < 1 || *in.TTLSeconds > realm.MaxTemplateTTL) {
		v.Add("ttl_seconds", "must be a whole number of seconds, at most the template's ttl_seconds")
	}
	if err := v.OrNil(); err != nil {
		return nil, &requestProblem{status: http.StatusBadRequest, kind: "validation", detail: "the request has invalid fields", fields: v.Listed()}
	}
	return &in, nil
}

// readJSONBody reads req's body, application/json of at most limit bytes,
// into v: one value, no unknown field. p answers a body that is not that
// at all (type, size, unreadable); typeErr names a field of the wrong type,
// for the caller to explain in its own words; malformed is any failure to
// decode one value (a wrong type included).
func readJSONBody(req *http.Request, limit int, v any) (typeErr *json.UnmarshalTypeError, malformed bool, p *requestProblem) {
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, false, &requestProblem{status: http.StatusUnsupportedMediaType, kind: "unsupported-media-type", detail: "the body must be application/json"}
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, int64(limit)+1))
	if err != nil {
		return nil, false, &requestProblem{status: http.StatusBadRequest, kind: "malformed-request", detail: "the body could not be read"}
	}
	if len(body) > limit {
		return nil, false, &requestProblem{status: http.StatusRequestEntityTooLarge, kind: "body-too-large",
			detail: fmt.Sprintf("the body is larger than %d KiB", limit>>10)}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	errors.As(err, &typeErr)
	return typeErr, err != nil || dec.More(), nil
}

// findMintingKey finds, in one query, the realm's API key whose secret is
// secret, the template named template (nil when there is none) and the
// realm's IP allow list, or says why the key may not mint
// (realm.APIKeyUnknown, APIKeyDeactivated, APIKeyExpired).
func (s *Server) findMintingKey(ctx context.Context, p *provider, secret, template string, now time.Time) (*realm.MintRead, string, error) {
	if !realm.LooksLikeAPIKey(secret) {
		return nil, realm.APIKeyUnknown, nil
	}
	read, err := s.store.GetMintRead(ctx, p.realm.ID, realm.HashSecret(secret), template)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, realm.APIKeyUnknown, nil
	}
	if err != nil {
		return nil, "", err
	}
	if why := read.Key.Usable(now); why != "" {
		return nil, why, nil
	}
	return read, "", nil
}

// touchAPIKey keeps last_used_at to the minute: one write a minute for a
// busy key.
func (s *Server) touchAPIKey(ctx context.Context, p *provider, key *realm.APIKey, now time.Time) {
	minute := now.UTC().Truncate(time.Minute)
	if key.LastUsedAt != nil && !key.LastUsedAt.Before(minute) {
		return
	}
	if err := s.store.TouchAPIKey(ctx, p.realm.ID, key.ID, minute); err != nil {
		// Bookkeeping: a failed write must not refuse a good key.
		s.log.WarnContext(ctx, "oauth: could not record an API key's use", "realm", p.realm.Name, "key", key.ID, "err", err)
	}
}

// signTemporaryKey signs grant with the realm's ES256 key (CONTRACT §6's
// claims). Empty lists are sent as [] and absent limits as null, so a
// verifier reads every rule from the key without defaults.
func (p *provider) signTemporaryKey(ctx context.Context, g *realm.TemporaryKeyGrant) (*MintedKey, error) {
	signer := p.signers[AlgES256]
	if signer == nil {
		return nil, errors.New("oauth: the realm has no ES256 signing key")
	}
	t := g.Template
	limit := func(l *int) any {
		if l == nil {
			return nil
		}
		return *l
	}
	list := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	claims := fjwt.MapClaims{
		"iss":                            p.issuer,
		"sub":                            t.ID,
		"template":                       t.Name,
		"jti":                            g.ID,
		"iat":                            g.IssuedAt.Unix(),
		"exp":                            g.ExpiresAt.Unix(),
		"api_key":                        g.APIKeyID,
		"permissions":                    list(t.Permissions),
		"dir_scope":                      list(t.DirScope),
		"ip_ranges":                      list(t.IPRanges),
		"countries":                      list(t.Countries),
		"limit_per_minute":               limit(t.LimitPerMinute),
		"limit_per_source_ip_per_minute": limit(t.LimitPerSourceIPPerMinute),
	}
	header := &fjwt.Headers{Extra: map[string]any{"typ": TemporaryKeyType, "kid": signer.kid}}
	tok, _, err := p.es256.Generate(ctx, claims, header)
	if err != nil {
		return nil, err
	}
	return &MintedKey{Key: tok, ExpiresAt: g.ExpiresAt.UTC(), Permissions: list(t.Permissions), Template: t.Name}, nil
}

// MintTestKey signs a test key of the realm's template for the console's
// "mint a test key" button: the caller (on ctx) must be allowed to change
// the realm; the key lives at most ten minutes and names no API key.
func (s *Server) MintTestKey(ctx context.Context, realmName, template string) (*MintedKey, error) {
	_, g, err := s.service.CheckTestMint(ctx, realmName, template)
	if err != nil {
		return nil, err
	}
	p, err := s.providers.current(ctx, realmName)
	if err != nil {
		return nil, err
	}
	return p.signTemporaryKey(ctx, g)
}

func quoteName(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return `"` + s + `"`
}
