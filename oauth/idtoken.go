package oauth

import (
	"context"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fjwt "github.com/ory/fosite/token/jwt"
)

// idTokenStrategy signs ID tokens with the realm's RS256 key, made on first
// need (ensureKey). It is also the jwt.Signer fosite's OpenID Connect
// validator decodes id_token_hint with.
type idTokenStrategy struct {
	fjwt.Signer
	s   *Server
	p   *provider
	cfg *fosite.Config
}

func newIDTokenStrategy(s *Server, p *provider, cfg *fosite.Config) *idTokenStrategy {
	t := &idTokenStrategy{s: s, p: p, cfg: cfg}
	t.Signer = &fjwt.DefaultSigner{GetPrivateKey: func(ctx context.Context) (any, error) {
		k, err := s.ensureKey(ctx, p, AlgRS256)
		if err != nil {
			return nil, err
		}
		return k.priv, nil
	}}
	return t
}

var _ openid.OpenIDConnectTokenStrategy = (*idTokenStrategy)(nil)

// GenerateIDToken names the key it signs with in the header (kid), and
// signs with exactly that key.
func (t *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, req fosite.Requester) (string, error) {
	k, err := t.s.ensureKey(ctx, t.p, AlgRS256)
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err)
	}
	sess, ok := req.GetSession().(openid.Session)
	if !ok {
		return "", fosite.ErrServerError.WithDebug("unexpected session type")
	}
	sess.IDTokenHeaders().Add("kid", k.kid)
	inner := openid.DefaultStrategy{
		Signer: &fjwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return k.priv, nil }},
		Config: t.cfg,
	}
	return inner.GenerateIDToken(ctx, lifespan, req)
}
