package oauth

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

// introspectionRead is an introspection's one round trip
// (realm.IntrospectionReader): the caller, the token's client and user and
// the token's revocation, read together before the caller is
// authenticated. Everything it holds was read by this request, so using it
// in place of separate reads keeps every check as exact as they were, on
// any node: nothing outlives the request.
type introspectionRead struct {
	realmID string
	token   string
	// claims are the token's, when its signature was found checked in the
	// verified-token cache; nil otherwise (no token, a token not seen
	// before, not an access token of the realm: perhaps a refresh token).
	claims *AccessClaims
	q      realm.IntrospectionQuery
	r      *realm.IntrospectionRead
}

// introspectionKey carries the request's *introspectionRead to
// verifyActive.
type introspectionKey struct{}

// readIntrospection reads, in one statement, what introspecting token for
// the caller named by req's credentials will check. It returns nil when
// the store cannot (no realm.IntrospectionReader) or the read failed: the
// checks then read part by part, and a store that is down is answered as
// before.
func (p *provider) readIntrospection(ctx context.Context, req *http.Request, token string) *introspectionRead {
	ir, ok := p.s.store.(realm.IntrospectionReader)
	if !ok {
		return nil
	}
	pre := &introspectionRead{realmID: p.realm.ID, token: token}
	pre.q.CallerID = credentialsClientID(req)
	// Only a token whose signature was checked before (the verified-token
	// cache) is read ahead: a signature is never checked for a caller not
	// yet authenticated. A token seen for the first time is checked after
	// the authentication, its rows read part by part.
	if token != "" {
		if cl, ok := p.cachedClaims(token); ok {
			pre.claims = cl
			pre.q.JTI = cl.ID
			if cl.ClientID != pre.q.CallerID {
				// A client introspecting its own token: its row is the
				// caller's (tokenClient).
				pre.q.TokenClientID = cl.ClientID
			}
			if cl.Kind == "user" {
				pre.q.UserID = cl.Subject
			}
		}
	}
	// A read kept from an earlier request is used while nothing it holds
	// can have changed (kept.go).
	var ts tokenState
	if pre.claims != nil {
		if ts = p.tokenState(); ts.keep {
			if r, ok := p.keptIntrospections.get(pre.q, ts); ok {
				p.s.keptIntrospectionsUsed.Add(1)
				pre.r = r
				return pre
			}
		}
	}
	r, err := ir.ReadIntrospection(ctx, p.realm.ID, pre.q)
	if err != nil {
		return nil
	}
	if ts.keep && complete(pre.q, r) {
		p.keptIntrospections.put(pre.q, r, ts)
	}
	pre.r = r
	return pre
}

// complete says whether r found every row q asks for. Only such a read is
// kept: a row that is missing may be created (a client registered after a
// resource server first tried it), which moves no epoch, and a request
// naming an unknown client must not fill the cache.
func complete(q realm.IntrospectionQuery, r *realm.IntrospectionRead) bool {
	return r.Caller != nil && (q.TokenClientID == "" || r.TokenClient != nil) && (q.UserID == "" || r.User != nil)
}

// credentialsClientID is the client_id the request authenticates as, found
// as fosite's client authentication finds it (the Basic header first, else
// the form). It only picks which row to read ahead: when it differs from
// fosite's, preReadClients reads the client fosite asks for.
func credentialsClientID(req *http.Request) string {
	if id, _, ok := req.BasicAuth(); ok {
		id, err := url.QueryUnescape(id)
		if err != nil {
			return ""
		}
		return id
	}
	return req.PostForm.Get("client_id")
}

// forRequest returns pre when it read ahead for this realm and token, else
// nil: a provider re-created under the realm's name (another realm ID),
// another token, or a token whose claims were not known before the read
// (only its caller was read ahead) is checked by reading part by part.
func (pre *introspectionRead) forRequest(realmID, token string) *introspectionRead {
	if pre == nil || pre.claims == nil || pre.realmID != realmID || pre.token != token {
		return nil
	}
	return pre
}

// preReadClients is the realm's fosite storage with the caller's client
// taken from the introspection read: fosite's client authentication (Basic
// or form, secret and rotation grace, public clients) runs unchanged on
// the row this request read. Any other client is read as usual.
type preReadClients struct {
	fosite.Storage
	pre *introspectionRead
	now time.Time
}

// GetClient answers as fositeStore.GetClient does: a disabled, unknown or
// other realm's client is fosite.ErrNotFound.
func (s *preReadClients) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if id == "" || id != s.pre.q.CallerID {
		return s.Storage.GetClient(ctx, id)
	}
	c := s.pre.r.Caller
	if c == nil || !c.Active || c.RealmID != s.pre.realmID {
		return nil, fosite.ErrNotFound
	}
	return &fositeClient{c: c, now: s.now}, nil
}

// authenticateCallerWith authenticates the caller as authenticateCaller
// does, its client row taken from pre.
func (s *Server) authenticateCallerWith(ctx context.Context, p *provider, req *http.Request, pre *introspectionRead) (*fositeClient, error) {
	f := fosite.Fosite{Store: &preReadClients{Storage: p.fosite.Store, pre: pre, now: s.clock()}, Config: p.fosite.Config}
	return confidentialCaller(f.AuthenticateClient(ctx, req, req.PostForm))
}
