// Package mailtest runs a real SMTP server (go-smtp) on 127.0.0.1:0 for
// tests, records what it receives, can be told to refuse, and takes received
// mails apart with the standard library (Parse).
//
// It is imported by tests only (realm/mail's and the black-box tests of
// cmd/ward); nothing in the server links it.
package mailtest
