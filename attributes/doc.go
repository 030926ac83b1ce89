// Package attributes holds what both Ward and the resource servers that trust
// it need to agree on: the typed attribute schema (string, integer, number,
// boolean, date; single or multi-valued), validation of attribute values, and
// the effective-attribute merge of a subject's groups.
//
// It also holds the CEL policy language (CompilePolicy, Evaluate): Ward
// compiles policies with it when admins write them, and resource servers
// evaluate them with it, so both agree on what a condition means.
//
// The Guard is the resource server's side (CONTRACT §5). NewGuard reads the
// realm's discovery document and JWKS, signs in with the resource server's
// own client to fetch the realm's policies, and polls them with their ETag.
// It verifies access tokens offline (compact JWS, typ at+jwt, an
// asymmetric algorithm from the allow-list bound to the key's own alg, iss,
// aud, exp, nbf, iat), refetching the JWKS on an unknown kid at most once
// per interval, and caching tokens whose signature checked out so that a
// client's repeated calls cost microseconds. Decide evaluates the policies
// deny by default; the net/http (HTTP, Authenticate) and echo (Echo,
// EchoAuthenticate) middleware answer 401, 403 and 404 as problem JSON and
// put the claims and decision in the request context.
//
// The Guard also accepts the realm's API keys (CONTRACT §6), sent as
// X-API-Key or Authorization: Bearer ward_…. A string that is not shaped
// like a Ward key is refused without asking Ward. A well-shaped key is
// exchanged at the realm's token endpoint (RFC 8693 token exchange, as the
// guard's own client) for a short at+jwt, which is verified like any access
// token and must be of kind "api_key". The guard keeps that token per key
// (by the key's SHA-256, never the key; bounded; one exchange in flight per
// key) until a quarter of its life (at least 10 s) remains, so decisions
// stay offline and a deactivated key is refused within a minute. A refused
// key is a 401 saying why, repeated from the cache for 3 s; Ward giving no
// verdict is a 503. A key's subject is allowed exactly what its
// permissions claim names (resource_type:action): policies are not
// consulted (IsAPIKey, KeyAllows).
//
// Temporary keys (issue 15), minted by Ward from a security template for
// browsers and uploaders, are compact JWS sent in X-API-Key (typ
// ward-tk+jwt, the realm's keys; as Bearer they fail like any non-at+jwt).
// The guard verifies them offline and remembers them by hash, so a key
// used again costs no signature check; expiry is checked on every use.
// Their subject has kind "temporary_key" (IsTemporaryKey): Decide allows
// what the permissions claim names, on resources whose "path" lies within
// dir_scope (ScopeAllows; "*" only at the end, matching any rest). Once per
// request the middleware also checks the client address (request.ip)
// against ip_ranges and, with a MaxMind database (Config.GeoIPDatabase),
// its country against countries — failing closed without a database —
// and spends from the per-minute token buckets (per key, and per key and
// address, an IPv6 /64 counting as one; bounded in number), answering 429
// with Retry-After. Keys minted by an API key that the realm's policy
// document lists in deactivated_api_keys are refused from the poll that
// brings the list.
//
// The realm's IP allow lists (CONTRACT §7) come in the policy document and
// apply to every request; the guard reports the requests it refuses by
// them to Ward, bounded and in the background (refusals.go), where they
// become network.refused audit events.
//
// The Guard imports nothing but go-jose, cel-go, echo and maxminddb: it
// talks to Ward over HTTP only.
//
// It must import nothing from the server side (realm, oauth, console,
// storage): resource servers outside this repository import it.
package attributes
