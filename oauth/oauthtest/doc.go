// Package oauthtest runs the OAuth side of Ward for tests of other
// packages (oauth, oauth/login, console): oauth.Server and oauth/login's
// pages wired as cmd/ward wires them, served on 127.0.0.1 over a real,
// migrated store (storage/sqltest), with a clock the test can move; rows
// made straight through the store; an HTTP client for the token endpoints;
// and a realm with a user and an application to sign in with through the
// real login page, in a cookie-keeping browser.
//
// It is for tests only and must not be imported by production code.
package oauthtest
