package oauth

import (
	"context"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

// Internals the external tests (package oauth_test) need; they cannot be
// in package oauth because oauthtest, which runs the server, imports it.

// MaxFormBytes bounds token, introspection and revocation bodies
// (TestOversizedBodyIs413).
const MaxFormBytes = maxFormBytes

// Paths not exported by the package itself.
const (
	PathPolicies          = pathPolicies
	PathThirdPartyCookies = pathThirdPartyCookies
)

// WardJSCacheControl is ward.js's Cache-Control (TestWardJS).
const WardJSCacheControl = wardJSCacheControl

// SupportedScopes is what an application client may ask for
// (TestServiceAccountsGetNoOIDCScopes).
var SupportedScopes = supportedScopes

// NewFositeClient is c as fosite sees it.
func NewFositeClient(c *realm.Client) fosite.Client { return &fositeClient{c: c} }

// Provider is s's cached provider of the realm named name, built on first
// use (TestEnsureRS256Key).
func Provider(ctx context.Context, s *Server, name string) (*provider, error) {
	return s.providers.get(ctx, name)
}

// EnsureKey is p.ensureKey, the key reported by its kid.
func EnsureKey(ctx context.Context, p *provider, alg string) (string, error) {
	k, err := p.ensureKey(ctx, alg)
	if err != nil {
		return "", err
	}
	return k.kid, nil
}
