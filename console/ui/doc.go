// Package ui is the server-rendered console under /console.
//
// The console is an OAuth2 client of Ward itself: it signs members in
// through the reserved console realm with the authorization code flow and
// PKCE as the public client ward-console, exactly as any application would,
// over HTTP to the public URL. It keeps the tokens on the server, in memory,
// behind a random session cookie (HttpOnly, SameSite=Lax, Secure on https),
// so that no token ever reaches the browser's JavaScript.
//
// Every page acts with the principal that the admin API would derive from
// the same access token (the Authenticator is oauth's AuthenticateAdmin) and
// calls the same realm.Service methods, so the UI can never allow or show
// what the API would refuse. Role checks and validation stay in realm.
//
// Sessions live in the UI value, not in package state: a restart signs
// everyone out, which is acceptable for an admin console and keeps tokens
// out of the database.
package ui
