package attributes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oschwald/maxminddb-golang/v2"
)

// ClientCredentials are the resource server's own client of the realm, a
// confidential one: the guard signs in with them (client_credentials
// grant) to fetch the realm's policies, exchanges API keys with them
// (token exchange), and introspects tokens with them when
// Config.Introspect is set.
type ClientCredentials struct {
	ID     string
	Secret string
}

// DecisionRecord is what the decision log hook sees of one decision. It
// never carries the token: only the subject's sub and the outcome.
type DecisionRecord struct {
	Subject      string
	ResourceType string
	Action       string
	Allowed      bool
	Policies     []string
	Errors       []PolicyError
	Time         time.Time
}

// Config configures a Guard. Issuer, Audience and Client are required.
type Config struct {
	// Issuer is the realm's issuer URL, e.g.
	// https://iam.example.com/realms/acme. Discovery is read from
	// {Issuer}/.well-known/openid-configuration and must name exactly this
	// issuer; policies are fetched from {Issuer}/policies.
	Issuer string
	// Audience must be among a token's aud.
	Audience string
	// Client is the resource server's client of the realm.
	Client ClientCredentials
	// HTTPClient talks to the issuer. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// PolicyRefresh is how often the policies are polled. Default 30 s.
	PolicyRefresh time.Duration
	// Algorithms is the allow-list of JWS algorithms. Default ES256 and
	// RS256. Symmetric (HS*) algorithms and "none" are never accepted.
	Algorithms []string
	// Leeway tolerates clock skew on exp, nbf and iat. Default 30 s; a
	// negative value means none.
	Leeway time.Duration
	// KeyRefetchInterval is the least time between two JWKS fetches caused
	// by tokens with an unknown kid. Default 10 s.
	KeyRefetchInterval time.Duration
	// Introspect makes the guard ask the issuer's introspection endpoint
	// about every token after verifying it offline, so that a deactivated
	// user or client is refused at once rather than when its token expires.
	// It costs a round trip per request.
	Introspect bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed for
	// request.ip. Without them request.ip is always the peer address.
	TrustedProxies []netip.Prefix
	// DecisionLog, if set, is called after every decision.
	DecisionLog func(context.Context, DecisionRecord)
	// OnError, if set, is told about problems that do not fail a request: a
	// policy that does not compile (it is skipped), a failed policy poll
	// (the last good set is kept), a report of network refusals Ward did
	// not take (refusals.go).
	OnError func(error)
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
	// APIKeyCacheSize bounds how many API keys the guard remembers (their
	// exchanged tokens, or a recent refusal). Default 10,000; beyond it
	// the guard forgets keys, which costs them one more exchange.
	APIKeyCacheSize int
	// GeoIPDatabase is the path of a MaxMind-format database (.mmdb: a
	// GeoIP2 or GeoLite2 Country or City database; the guard reads a
	// record's country.iso_code) against which the countries of temporary
	// keys are checked. NewGuard opens it, and fails if it cannot; Close
	// closes it. Without a database (neither this nor GeoIP), a temporary
	// key that names countries is refused with 403: the guard cannot tell
	// where the caller is, so it fails closed. Keys without countries do
	// not need one. The client address is request.ip (see TrustedProxies).
	GeoIPDatabase string
	// GeoIP is an already open database to use instead of GeoIPDatabase
	// (not both). The guard does not close it; it must stay open while the
	// guard is in use.
	GeoIP *maxminddb.Reader
}

// ErrNotFound is what a loader returns for a resource that does not exist;
// the middleware answers 404.
var ErrNotFound = errors.New("attributes: resource not found")

// ErrNoSubject is Decide called without an authenticated subject.
var ErrNoSubject = errors.New("attributes: no subject")

// ErrClosed is a Guard used after Close.
var ErrClosed = errors.New("attributes: guard closed")

// Guard verifies a realm's access tokens offline and decides requests with
// the realm's policies, deny by default. It also accepts the realm's API
// keys: it exchanges each key once for a short access token, keeps that
// token per key until shortly before it expires (so decisions stay
// offline), and allows a key exactly what its permissions name. And it
// accepts temporary keys minted from security templates, verified offline
// and held to their template's rules. It is safe for concurrent use.
type Guard struct {
	cfg       Config
	client    *http.Client
	now       func() time.Time
	algs      map[string]bool
	algList   []jose.SignatureAlgorithm
	leeway    time.Duration
	discovery discovery
	keys      *keySet
	verified  *verifiedCache
	apiKeys   *keyCache
	tempKeys  *tempKeyCache
	limits    *rateLimiter
	geo       *geoIP

	// deactivated holds what the last policy document said of deactivated
	// API keys (deactivated_api_keys and its cut-off): their temporary
	// keys are refused.
	deactivated atomic.Pointer[deactivatedMinters]
	// network holds the IP allow lists of the last policy document.
	network atomic.Pointer[networkLists]
	// refusals are the allow lists' refusals waiting to be reported to
	// Ward, and the loop sending them.
	refusals *refusalReporter

	policies atomic.Pointer[[]*CompiledPolicy]

	pollMu sync.Mutex // one policy fetch at a time; guards etag
	etag   string

	tokenMu     sync.Mutex // guards the guard's own access token
	token       string
	tokenExpiry time.Time

	cancel context.CancelFunc
	done   chan struct{}
	closed atomic.Bool
}

// discovery is the part of the issuer's OpenID configuration the guard uses.
type discovery struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// maxBody bounds what the guard reads from the issuer.
const maxBody = 4 << 20

// NewGuard reads the issuer's discovery document and JWKS, signs in with
// the client credentials, fetches the realm's policies, and starts polling
// them every PolicyRefresh until ctx is done or Close is called. It fails
// when any of these first steps fails: a guard without keys or policies
// could only deny. It also opens Config.GeoIPDatabase, if set.
func NewGuard(ctx context.Context, cfg Config) (_ *Guard, err error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("attributes: Config.Issuer and Config.Audience are required")
	}
	if cfg.Client.ID == "" {
		return nil, errors.New("attributes: Config.Client.ID is required to fetch the realm's policies")
	}
	g := &Guard{cfg: cfg, client: cfg.HTTPClient, now: cfg.Clock, leeway: cfg.Leeway}
	if g.geo, err = openGeoIP(cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			g.geo.close()
		}
	}()
	if g.client == nil {
		g.client = &http.Client{Timeout: 10 * time.Second}
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.leeway == 0 {
		g.leeway = 30 * time.Second
	} else if g.leeway < 0 {
		g.leeway = 0
	}
	if g.cfg.PolicyRefresh <= 0 {
		g.cfg.PolicyRefresh = 30 * time.Second
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []string{"ES256", "RS256"}
	}
	g.algs = map[string]bool{}
	for _, a := range algs {
		if !asymmetricAlgs[a] {
			return nil, fmt.Errorf("attributes: algorithm %q is not allowed (only asymmetric JWS algorithms)", a)
		}
		g.algs[a] = true
		g.algList = append(g.algList, jose.SignatureAlgorithm(a))
	}
	if err := g.discover(ctx); err != nil {
		return nil, err
	}
	refetch := cfg.KeyRefetchInterval
	if refetch <= 0 {
		refetch = 10 * time.Second
	}
	g.verified = newVerifiedCache(g.now)
	g.apiKeys = newKeyCache(cfg.APIKeyCacheSize, g.now)
	g.tempKeys = newTempKeyCache(tempKeyCacheSize, g.now)
	g.limits = newRateLimiter(rateBuckets)
	g.refusals = newRefusalReporter(g.postRefusals, g.report)
	g.keys = newKeySet(g.client, g.discovery.JWKSURI, g.algs, refetch, g.now)
	if err := g.keys.load(ctx); err != nil {
		return nil, err
	}
	if err := g.Refresh(ctx); err != nil {
		return nil, err
	}
	pollCtx, cancel := context.WithCancel(ctx)
	g.cancel, g.done = cancel, make(chan struct{})
	go g.poll(pollCtx)
	go g.refusals.run(pollCtx)
	return g, nil
}

// Close stops the policy polling and closes the GeoIP database the guard
// opened. The guard keeps verifying tokens with the keys and policies it
// has, but Decide answers ErrClosed (and temporary keys limited to
// countries are refused).
func (g *Guard) Close() error {
	if g.closed.Swap(true) {
		return nil
	}
	g.cancel()
	<-g.done
	<-g.refusals.done
	return g.geo.close()
}

func (g *Guard) discover(ctx context.Context) error {
	u := strings.TrimSuffix(g.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	var d discovery
	if err := g.getJSON(ctx, u, &d); err != nil {
		return fmt.Errorf("attributes: discovery: %w", err)
	}
	// An issuer that names another issuer would let one realm's keys vouch
	// for another's tokens.
	if d.Issuer != g.cfg.Issuer {
		return fmt.Errorf("attributes: discovery names issuer %q, not %q", d.Issuer, g.cfg.Issuer)
	}
	if d.JWKSURI == "" || d.TokenEndpoint == "" {
		return errors.New("attributes: discovery lacks jwks_uri or token_endpoint")
	}
	if g.cfg.Introspect && d.IntrospectionEndpoint == "" {
		return errors.New("attributes: Config.Introspect is set but discovery has no introspection_endpoint")
	}
	g.discovery = d
	return nil
}

func (g *Guard) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v)
}

// Policies returns the policies in force (those that compiled).
func (g *Guard) Policies() []*CompiledPolicy {
	if p := g.policies.Load(); p != nil {
		return *p
	}
	return nil
}

func (g *Guard) poll(ctx context.Context) {
	defer close(g.done)
	t := time.NewTicker(g.cfg.PolicyRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.Refresh(ctx); err != nil && ctx.Err() == nil {
				g.report(fmt.Errorf("attributes: policy poll failed, keeping the last policies: %w", err))
			}
			if err := g.keys.refreshIfOld(ctx); err != nil && ctx.Err() == nil {
				g.report(fmt.Errorf("attributes: JWKS refresh failed, keeping the last keys: %w", err))
			}
		}
	}
}

func (g *Guard) report(err error) {
	if g.cfg.OnError != nil {
		g.cfg.OnError(err)
	}
}

// Refresh fetches the realm's policies now (with the ETag of the last
// answer, so an unchanged set costs a 304). On failure the policies in force
// stay. The poller calls it every PolicyRefresh.
func (g *Guard) Refresh(ctx context.Context) error {
	g.pollMu.Lock()
	defer g.pollMu.Unlock()
	u := strings.TrimSuffix(g.cfg.Issuer, "/") + "/policies"
	resp, err := g.doAsClient(ctx, "fetch policies", func(tok string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if g.etag != "" {
			req.Header.Set("If-None-Match", g.etag)
		}
		return req, nil
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil
	case http.StatusOK:
	default:
		return fmt.Errorf("fetch policies: %s", resp.Status)
	}
	var body struct {
		Policies []Policy `json:"policies"`
		// DeactivatedAPIKeys are the ids of the realm's deactivated API
		// keys, whose temporary keys are refused (CONTRACT §6).
		DeactivatedAPIKeys []string `json:"deactivated_api_keys"`
		// RefuseIssuedUntil is sent when there were too many to list:
		// every temporary key issued at or before it is refused.
		RefuseIssuedUntil int64 `json:"refuse_temporary_keys_issued_until"`
		// IPAllowLists are the realm's and its groups' (CONTRACT §7).
		IPAllowLists networkDocument `json:"ip_allow_lists"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body); err != nil {
		return fmt.Errorf("fetch policies: %w", err)
	}
	compiled := make([]*CompiledPolicy, 0, len(body.Policies))
	for _, p := range body.Policies {
		cp, err := CompilePolicy(p, nil)
		if err != nil {
			// One bad policy must not take the others down; it allows
			// nothing, as if absent.
			g.report(fmt.Errorf("attributes: policy %q skipped: %w", p.Name, err))
			continue
		}
		compiled = append(compiled, cp)
	}
	g.policies.Store(&compiled)
	// The list replaces the last one: a reactivated key's temporary keys
	// work again from this poll on.
	g.setDeactivated(body.DeactivatedAPIKeys, body.RefuseIssuedUntil)
	g.setNetworkLists(body.IPAllowLists)
	g.etag = resp.Header.Get("ETag")
	return nil
}

// accessToken returns the guard's own access token, signing in with the
// client credentials when it has none or it is about to expire.
func (g *Guard) accessToken(ctx context.Context) (string, error) {
	g.tokenMu.Lock()
	defer g.tokenMu.Unlock()
	if g.token != "" && g.now().Before(g.tokenExpiry) {
		return g.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.discovery.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	g.clientAuth(req)
	resp, err := g.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("client credentials grant: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body)
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		if body.Error != "" {
			return "", fmt.Errorf("client credentials grant: %s (%s)", resp.Status, body.Error)
		}
		return "", fmt.Errorf("client credentials grant: %s", resp.Status)
	}
	g.token = body.AccessToken
	// Renew a little early so a token never expires in flight.
	life := time.Duration(body.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Minute
	}
	g.tokenExpiry = g.now().Add(life * 4 / 5)
	return g.token, nil
}

// doAsClient sends the request newRequest makes with the guard's own
// access token. Our token may have been revoked or the keys rotated: on a
// 401 it signs in again and sends it once more. An error sending is
// wrapped in what.
func (g *Guard) doAsClient(ctx context.Context, what string, newRequest func(token string) (*http.Request, error)) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := g.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		req, err := newRequest(tok)
		if err != nil {
			return nil, err
		}
		resp, err := g.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			resp.Body.Close()
			g.dropToken(tok)
			continue
		}
		return resp, nil
	}
}

func (g *Guard) dropToken(tok string) {
	g.tokenMu.Lock()
	if g.token == tok {
		g.token = ""
	}
	g.tokenMu.Unlock()
}

// clientAuth authenticates req as the guard's client (client_secret_basic;
// RFC 6749 §2.3.1 form-encodes id and secret before base64).
func (g *Guard) clientAuth(req *http.Request) {
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(g.cfg.Client.ID), url.QueryEscape(g.cfg.Client.Secret))
}

// Decide decides whether subject (verified token claims, as Verify,
// VerifyAPIKey or SubjectFrom return them) may perform action on a
// resource of resourceType described by resource. An API key's subject
// (kind "api_key") is allowed exactly when its permissions contain
// "resourceType:action" (KeyAllows); policies are not consulted and the
// decision names none. A temporary key's subject (kind "temporary_key") is
// allowed when its permissions contain "resourceType:action" and, if its
// dir_scope is not empty, the resource's "path" (a string) lies within it
// (ScopeAllows). Any other subject is decided by the realm's
// policies: request.ip comes from the HTTP request when ctx is the
// request's context inside the guard's middleware; request.time is now.
// Deny by default; the decision log hook sees it. The error is only for
// misuse (no subject, a closed guard): a denial is a Decision with Allowed
// false.
func (g *Guard) Decide(ctx context.Context, subject map[string]any, resourceType, action string, resource map[string]any) (Decision, error) {
	if g.closed.Load() {
		return Decision{}, ErrClosed
	}
	if subject == nil {
		return Decision{}, ErrNoSubject
	}
	now := g.now()
	var d Decision
	switch {
	case IsAPIKey(subject):
		d = Decision{Allowed: KeyAllows(subject, resourceType, action)}
	case IsTemporaryKey(subject):
		d = Decision{Allowed: decideTemporaryKey(subject, resourceType, action, resource)}
	default:
		reqVars := map[string]any{"time": now.UTC().Format(time.RFC3339)}
		if ip, ok := ctx.Value(ipKey{}).(string); ok {
			reqVars["ip"] = ip
		}
		d = g.evaluate(Request{Subject: subject, ResourceType: resourceType, Action: action, Resource: resource, Context: reqVars})
	}
	if g.cfg.DecisionLog != nil {
		sub, _ := subject["sub"].(string)
		g.cfg.DecisionLog(ctx, DecisionRecord{Subject: sub, ResourceType: resourceType, Action: action,
			Allowed: d.Allowed, Policies: d.Policies, Errors: d.Errors, Time: now})
	}
	return d, nil
}

// evaluate is Evaluate that fails closed: whatever a loader put in the
// resource map, a panic in evaluation is a denial, not a crashed server.
func (g *Guard) evaluate(req Request) (d Decision) {
	defer func() {
		if r := recover(); r != nil {
			d = Decision{Errors: []PolicyError{{Err: fmt.Errorf("attributes: evaluation panicked: %v", r)}}}
		}
	}()
	return Evaluate(g.Policies(), req)
}

type (
	ipKey       struct{}
	subjectKey  struct{}
	decisionKey struct{}
)

// SubjectFrom returns the verified token claims the guard's middleware put
// in the request context. For an API key they are the claims of the token
// Ward issued for it: kind "api_key", sub the key's id, permissions. For a
// temporary key they are its own claims with kind "temporary_key" (sub is
// the security template's id, api_key the minting API key's id).
func SubjectFrom(ctx context.Context) (map[string]any, bool) {
	s, ok := ctx.Value(subjectKey{}).(map[string]any)
	return s, ok
}

// DecisionFrom returns the decision the guard's middleware made for this
// request (absent for the authenticate-only middleware).
func DecisionFrom(ctx context.Context) (Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(Decision)
	return d, ok
}
