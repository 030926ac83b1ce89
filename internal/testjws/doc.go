// Package testjws makes compact JWS tokens for tests (signed with go-jose,
// independently of the code under test) and the re-encodings of a token
// that carry the same signed bytes, which every verifier in Ward accepts.
package testjws
