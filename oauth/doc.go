// Package oauth is Ward's OAuth2 / OpenID Connect provider: one fosite
// provider per realm, built on the realm's first request and cached for a
// short time (so 10,000 realms cost nothing until used); the fosite storage
// adapter over realm.Store; the realm signing keys (made here, encrypted at
// rest with the master key, stored by realm.Store); the discovery document,
// JWKS, token, introspection and revocation endpoints under Keycloak's paths
// /realms/{realm}/...; the authorization endpoint with its login page and
// browser sessions (authorization code + PKCE, OpenID Connect ID tokens,
// codes and sessions kept through realm.AuthCodeStore and
// realm.SessionStore), including the web_message response mode that posts
// the result to a login popup's opener, and ward.js, the browser helper
// that opens that popup; userinfo and RP-initiated logout; CORS for the
// realm's web_origins; brute-force locks (realm.LoginFailureStore) and
// per-IP limits; GET /realms/{realm}/policies, which hands the realm's
// policies (with an ETag) to its resource servers' Guards; and
// AuthenticateAdmin, which turns a console-realm
// access token into the realm.Principal the admin API acts as.
//
// Fosite flows stay fosite's: handlers are registered with compose.Compose
// and explicit factories, and this package only adapts storage, token
// strategies and introspection/revocation of its self-contained JWTs.
//
// It must not import console or storage, must not change realm rules (it only
// reads through realm.Store and realm.Service), and must never log tokens,
// secrets, passwords or key material.
package oauth
