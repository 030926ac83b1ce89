package realm

import "context"

// IntrospectionReader is what a token introspection reads, in one round
// trip: the calling client, the token's client, the token's
// user and whether the token is revoked. A store that does not implement
// it is read through GetClientClaims, GetClient, GetUser and
// IsTokenRevoked instead, with the same answers.
//
// Nothing here may be cached by the store. Introspection keeps reads in
// memory only with a store that is also a TokenStateWatcher, which tells
// it of every change.
type IntrospectionReader interface {
	// ReadIntrospection reads, from one snapshot, what q names in realm
	// realmID. An empty ID in q reads nothing for that part; a row that
	// does not exist in the realm is nil. A failure to read is an error,
	// never a nil row.
	ReadIntrospection(ctx context.Context, realmID string, q IntrospectionQuery) (*IntrospectionRead, error)
}

// TokenStateWatcher tells a node when what ReadIntrospection and
// GetClientClaims read may have changed, so that introspection and grants
// can answer from reads kept in memory: exact for the changes this process
// makes, and within a poll for those another node makes (CONTRACT §8
// gives an admin change 1 s on every node).
type TokenStateWatcher interface {
	// TokenEpochs returns the epoch of each realm of realmIDs that exists
	// (a realm that does not, or has no epoch, is absent): a number that
	// changes in the same transaction as every change, by any process, of
	// what ReadIntrospection or GetClientClaims read in the realm: a
	// client or user updated (memberships included), a token revoked, a
	// group updated or deleted, an attribute definition created, changed
	// or deleted, the realm's IP allow list set.
	TokenEpochs(ctx context.Context, realmIDs []string) (map[string]int64, error)
	// TokenStateGeneration is a number this process changes after every
	// such change it commits in realmID (and the realm's deletion), before
	// the call that made it returns. Realms may share a number.
	TokenStateGeneration(realmID string) uint64
}

// IntrospectionQuery names the rows of one introspection.
type IntrospectionQuery struct {
	// CallerID is the OAuth2 client_id of the client authenticating.
	CallerID string
	// TokenClientID is the client_id the token was issued to.
	TokenClientID string
	// UserID is the token's user (a user's token only).
	UserID string
	// JTI is the token's ID, checked against the revocation list.
	JTI string
}

// IntrospectionRead is what ReadIntrospection found.
//
// Its rows carry only what the checks use (every other field is zero), so
// that the one read stays small.
type IntrospectionRead struct {
	// Caller is what authenticating a client uses: ID, RealmID, ClientID,
	// Kind, Active, Public, OrgID, OrgRole, SecretHash, PreviousSecretHash,
	// PreviousSecretExpiresAt and TokensValidAfter.
	Caller *Client
	// TokenClient has ID, RealmID, ClientID, Active and TokensValidAfter.
	TokenClient *Client
	// User has ID, RealmID, Active and TokensValidAfter.
	User *User
	// Revoked says whether JTI is on the realm's revocation list.
	Revoked bool
}
