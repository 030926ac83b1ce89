// Package ui is the server-rendered console under /console.
//
// Sign-in. The console is an OAuth2 client of Ward itself: it signs members
// in through the reserved console realm with the authorization code flow
// and PKCE as the public client ward-console, exactly as any application
// would, over HTTP to the public URL. A sign-in in progress is sealed into a
// cookie (signin.go); a signed-in member's tokens and page state are sealed
// into a database row behind a random session cookie (HttpOnly,
// SameSite=Lax, Secure and __Secure- on https), so no token reaches the
// browser and any node serves any request (store.go, session.go).
//
// Authority. Every page acts with the principal that the admin API would
// derive from the same access token (the Authenticator is
// console.AdminAuth) and calls the same realm.Service methods, so the UI can
// never allow or show what the API would refuse. Role checks and validation
// stay in realm; templates only hide what the role may not do (CanWrite,
// IsOwner).
//
// Pages (pages.go). u.page wraps a handler with the session: the requests
// of one session are serialised on a node, the session is written back when
// it changed. Each page is console/layout.html plus the partials*.html plus
// its own template, parsed as its own set. Forms carry the session's CSRF
// token and a per-form idempotency key: a form sent twice is done once and
// both answers lead to the same page. A refused form comes back with the
// service's field errors next to the inputs and what was typed. Successful
// forms redirect with a one-time flash; a new client secret (or API key,
// or a test key minted from a security template) waits in the session
// until that client's (or key's, or template's) page shows it once.
// Minting a test key is the one thing the console asks of oauth
// (Config.MintTestKey): it signs with the realm's key.
//
// Rules: every page works without JavaScript (static/*.js only enhances);
// the CSP allows only Ward's own scripts and styles; nothing is loaded from
// elsewhere; secrets never appear in URLs, flashes, logs or events.
package ui
