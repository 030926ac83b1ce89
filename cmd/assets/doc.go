// Command assets is an example asset server: it keeps metadata about
// digital assets and lets the users and service accounts of one Ward realm
// read, write, delete and share them, as CONTRACT §5 describes. It trusts
// Ward through the attributes library only (token verification offline,
// realm policies), which is the point of the example: a resource server
// protects its API with a Guard and never calls Ward per request.
//
// Permissions: a subject may act on an asset when a realm policy allows the
// action, when the asset's ACL grants the matching permission to the
// subject or one of its groups, or when it owns the asset. Share links give
// read access to one asset without a token, until they expire, reach their
// use limit or are revoked.
//
// API keys (X-API-Key: ward_…, or Authorization: Bearer ward_…) are
// accepted on every endpoint: the guard exchanges each key at Ward with
// this server's client credentials and caches the short token. A key is
// allowed an action exactly when its permissions contain "asset:action"
// (the guard's Decide); ownership and ACLs do not apply to it, though an
// asset it creates is owned by the key's id. GET /assets lists every asset
// for a key holding asset:read and none for any other key.
//
// Temporary keys (X-API-Key: a JWS minted by Ward from a security template)
// are verified offline by the guard, which also enforces their ip_ranges,
// countries (ASSETS_GEOIP_DB, a MaxMind-format database) and per-minute
// limits, reading the client address through ASSETS_TRUSTED_PROXIES. Every
// asset has a path (default "/"), which a temporary key's dir_scope must
// cover; an asset a temporary key creates is owned by the API key that
// minted it. Moving an asset (department or path) needs "create" where it
// lands.
//
// It keeps its data in SQLite through gorm. It must import nothing of Ward
// but the attributes package.
package main
