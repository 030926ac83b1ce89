// Package login is the HTML side of signing in to a realm: the login page
// of the authorization endpoint (with the browser session it starts and
// the Cancel button), RP-initiated logout with its confirmation page, the
// set-password and reset-password pages of the emailed links, the page of
// the web_message response mode that posts the result to a login popup's
// opener (WriteWebMessage), and brute-force protection of the login form
// (a lock per account in the database, a limit per address on each node).
//
// It owns the pages and sign-in; the protocol is oauth's. It reads the
// realm's authorization endpoint through oauth.Authorizer (client, request,
// code, the answer at the redirect URI) and never composes fosite or
// issues a token itself. Rules about users and passwords are realm's
// (realm.Service: passwords, set-password and reset links). Every page is
// server-rendered from templates/, embedded; forms are CSRF-protected with
// double-submit cookies; pages are never framed or cached and send no
// Referer. It must never log or show a password, a token or a link's
// token, and answers an unknown address, a wrong password and a locked
// account alike.
package login
