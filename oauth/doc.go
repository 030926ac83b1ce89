// Package oauth is Ward's OAuth2 / OpenID Connect provider: one fosite
// provider per realm, built on the realm's first request and cached for a
// short time (so 10,000 realms cost nothing until used; provider.go).
//
// File by file, named as fosite names its own:
//   - storage*.go: the fosite storage adapter over realm.Store, scoped to
//     one realm (clients, authorization codes with their PKCE and OpenID
//     Connect requests, refresh tokens with their rotation and families).
//   - strategy_*.go: how tokens look: ES256 access tokens (RFC 9068)
//     signed by a cheap signer, refresh tokens as HS256 JWTs whose stored
//     row decides, random authorization codes, ID tokens signed with the key
//     the client chose.
//   - flow_*.go: what Ward decides inside fosite's grants: a service
//     account's claims (client_credentials), a user's claims and the
//     Authorizer that oauth/login drives (authorization code), whether a
//     refresh still has grounds, the console realm's org choice.
//   - handler_*.go: the endpoints under Keycloak's paths /realms/{realm}/…:
//     token, introspection, revocation, discovery and JWKS, userinfo,
//     policies and network-refusals (for resource servers' Guards: what
//     they enforce, and the allow-list refusals they report), ward.js, the keycloak-js
//     third-party-cookie check.
//   - response_mode_web_message.go: the web_message response mode (the page
//     itself is oauth/login's), cors.go and ratelimit.go: CORS for the
//     realm's web_origins, per-address limits of refused token requests;
//     keys.go: the signing keys' encryption under the master key and the
//     refresh tokens' HMAC keys; verify.go: access-token verification, also
//     for the admin API (VerifyAccessToken); form.go: the token endpoints'
//     usual form read without net/http's general parser; introspect_read.go
//     and refresh_read.go: an introspection's and a refresh grant's rows
//     read ahead in one round trip.
//
// Fosite flows stay fosite's: handlers are registered with compose.Compose
// and explicit factories, and this package only adapts storage, token
// strategies and introspection/revocation of its self-contained JWTs.
//
// It must not import console, oauth/login or storage. It reads realm.Store
// and writes only token state (codes, refresh tokens, revocations); keys
// are made and rotated by realm.Service, and this package only drops its
// cached provider (Forget). It must never log tokens, secrets, passwords
// or key material.
package oauth
