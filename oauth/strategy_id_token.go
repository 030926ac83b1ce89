package oauth

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// idTokenStrategy signs ID tokens with the realm's key for the algorithm
// the client chose (RS256 unless it chose ES256, CONTRACT §4); the RS256
// key is made on first need (provider.ensureKey). It is also the jwt.Signer fosite's
// OpenID Connect validator decodes id_token_hint with, which is why Decode
// accepts any of the realm's keys.
type idTokenStrategy struct {
	fjwt.Signer
	p   *provider
	cfg *fosite.Config
}

func newIDTokenStrategy(p *provider, cfg *fosite.Config) *idTokenStrategy {
	t := &idTokenStrategy{p: p, cfg: cfg}
	t.Signer = &fjwt.DefaultSigner{GetPrivateKey: func(ctx context.Context) (any, error) {
		k, err := p.ensureKey(ctx, AlgRS256)
		if err != nil {
			return nil, err
		}
		return k.priv, nil
	}}
	return t
}

var _ openid.OpenIDConnectTokenStrategy = (*idTokenStrategy)(nil)

// idTokenAlg is the algorithm the client's ID tokens are signed with.
func idTokenAlg(c fosite.Client) string {
	if fc, ok := c.(*fositeClient); ok && fc.c.IDTokenAlg == realm.IDTokenES256 {
		return AlgES256
	}
	return AlgRS256
}

// GenerateIDToken names the key it signs with in the header (kid), and
// signs with exactly that key.
func (t *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, req fosite.Requester) (string, error) {
	k, err := t.p.ensureKey(ctx, idTokenAlg(req.GetClient()))
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err)
	}
	sess, ok := req.GetSession().(openid.Session)
	if !ok {
		return "", fosite.ErrServerError.WithDebug("unexpected session type")
	}
	sess.IDTokenHeaders().Add("kid", k.kid)
	var signer fjwt.Signer
	if k.alg == AlgES256 {
		// The same cheap ES256 signer as access tokens.
		signer = t.p.es256
	} else {
		signer = &fjwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return k.priv, nil }}
	}
	inner := openid.DefaultStrategy{Signer: signer, Config: t.cfg}
	return inner.GenerateIDToken(ctx, lifespan, req)
}

// Decode parses an ID token (an id_token_hint) signed by any of the realm's
// keys, choosing the key by kid and requiring the key's own algorithm.
// Claims are validated as fosite's signer does (an expired token comes back
// with a ValidationError the caller may accept).
func (t *idTokenStrategy) Decode(_ context.Context, token string) (*fjwt.Token, error) {
	return fjwt.Parse(token, func(tok *fjwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		key, ok := t.p.verifiers[kid]
		if !ok || key.alg != string(tok.Method) {
			return nil, fmt.Errorf("oauth: id_token_hint not signed by a key of this realm")
		}
		return key.pub, nil
	})
}
