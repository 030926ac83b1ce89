package oauth

import (
	"context"
	"net/http"

	"github.com/wardiam/ward/realm"
)

// A refresh grant reads two things before its write: the client the
// request names (fosite authenticates the caller with its row) and the
// presented token with its user and session. A store that can
// (realm.RefreshGrantReader) reads both in one round trip, ahead of fosite;
// GetClient and GetRefreshTokenSession then take their part of that read
// instead of reading it again. What is read is this request's alone and is
// used exactly as the separate reads would be: the client row only to
// authenticate the caller by fosite's own rules (a disabled client is
// refused the same way), the token only after that. Any miss — no such
// token or client, another client named than the one read, a read error,
// a store without the interface — leaves the request to read part by part
// as before, with the same answers.

// refreshReadKey carries a refreshRead in a request's context.
type refreshReadKey struct{}

// refreshRead is a refresh grant's rows read ahead, for one realm.
type refreshRead struct {
	realmID string
	// signature is the presented token's (refreshSignature).
	signature string
	grant     *realm.RefreshGrant
	// client is the client named by the request, without its groups (a
	// refresh grant's subject is the user).
	client *realm.Client
}

// withRefreshRead reads ahead what req, a refresh grant, will ask for.
func (p *provider) withRefreshRead(ctx context.Context, req *http.Request) context.Context {
	rr, ok := p.s.store.(realm.RefreshGrantReader)
	if !ok {
		return ctx
	}
	sig := refreshSignature(req.PostForm.Get("refresh_token"))
	jti, _, ok := splitRefreshSignature(sig)
	if !ok {
		return ctx
	}
	clientID := credentialsClientID(req) // introspect_read.go
	if clientID == "" {
		return ctx
	}
	g, c, err := rr.ReadRefreshGrant(ctx, p.realm.ID, jti, clientID)
	if err != nil {
		return ctx // read part by part, which reports what is wrong
	}
	return context.WithValue(ctx, refreshReadKey{}, &refreshRead{realmID: p.realm.ID, signature: sig, grant: g, client: c})
}

// readAheadClient is the client read ahead for realmID under this client_id,
// or nil.
func readAheadClient(ctx context.Context, realmID, clientID string) *realm.Client {
	if rd, ok := ctx.Value(refreshReadKey{}).(*refreshRead); ok && rd.realmID == realmID && rd.client.ClientID == clientID {
		return rd.client
	}
	return nil
}

// readAheadGrant is the grant read ahead for realmID's refresh token with
// this signature, or nil.
func readAheadGrant(ctx context.Context, realmID, signature string) *realm.RefreshGrant {
	if rd, ok := ctx.Value(refreshReadKey{}).(*refreshRead); ok && rd.realmID == realmID && rd.signature == signature {
		return rd.grant
	}
	return nil
}
