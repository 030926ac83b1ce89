package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wardiam/ward/realm"
)

// maxPerOwner is how many console sessions one account keeps (its oldest
// gives way): enough for several browsers and devices, and no one can pile
// up sessions by signing in again and again.
const maxPerOwner = 20

// sessions keeps console sessions in the database (realm.ConsoleSessionStore),
// keyed by the SHA-256 of the cookie value and sealed with the console's
// key, so that a database reader sees neither the cookie nor the tokens,
// and a sealed row cannot be moved under another key.
type sessions struct {
	store realm.ConsoleSessionStore
	seal  *sealer
	// locks serialise the requests of one session on this node: load,
	// handle, write back.
	locks sessionLocks
}

// lockWait is how long a request waits for its session's earlier request
// on this node before answering "busy".
const lockWait = 10 * time.Second

func sessionHash(cookie string) []byte {
	h := sha256.Sum256([]byte(cookie))
	return h[:]
}

// lock serialises the requests of the session with this cookie; ok is
// false when the session's earlier request did not finish within lockWait.
func (m *sessions) lock(ctx context.Context, cookie string) (unlock func(), ok bool) {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	return m.locks.lock(ctx, string(sessionHash(cookie)))
}

// create stores a new session for owner and returns its cookie value.
func (m *sessions) create(ctx context.Context, owner string, st sessionState, expires, now time.Time) (string, error) {
	cookie := randomString()
	hash := sessionHash(cookie)
	data, err := m.sealState(hash, &st)
	if err != nil {
		return "", err
	}
	err = m.store.CreateConsoleSession(ctx, &realm.ConsoleSession{IDHash: hash, Owner: owner, Data: data,
		ExpiresAt: expires, UpdatedAt: now}, maxPerOwner)
	return cookie, err
}

// load returns the session of cookie; nil (no error) when there is none,
// it expired, or its row cannot be opened (sealed by another key: the
// master key changed), all of which mean "sign in again".
func (m *sessions) load(ctx context.Context, cookie string, now time.Time) (*liveSession, error) {
	if cookie == "" {
		return nil, nil
	}
	return m.loadHash(ctx, sessionHash(cookie), now)
}

func (m *sessions) loadHash(ctx context.Context, idHash []byte, now time.Time) (*liveSession, error) {
	row, err := m.store.GetConsoleSession(ctx, idHash, now)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	plain, ok := m.seal.open(row.Data, sessionAD(row.IDHash))
	if !ok {
		return nil, nil
	}
	s := &liveSession{idHash: row.IDHash, expires: row.ExpiresAt, version: row.Version}
	if err := json.Unmarshal(plain, &s.st); err != nil {
		return nil, nil
	}
	return s, nil
}

// saveTries bounds how often a write-back replays its changes on a newer
// copy (another node wrote the row in between).
const saveTries = 5

// save writes s's changes back. When another node wrote the row since s
// was read, the changes are replayed on the newer copy and written again,
// so neither write loses the other's (a form key, a waiting secret). The
// write does not end with the request: a browser that went away must not
// lose a refreshed token pair (the old refresh token is spent) or a
// secret just taken.
func (m *sessions) save(ctx context.Context, s *liveSession, now time.Time) error {
	if s == nil || len(s.ops) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for range saveTries {
		ok, err := m.write(ctx, s, &s.st, now)
		if err != nil || ok {
			s.ops = nil
			return err
		}
		fresh, err := m.loadHash(ctx, s.idHash, now)
		if err != nil {
			return err
		}
		if fresh == nil {
			s.ops = nil
			return nil // signed out or expired meanwhile: nothing to keep
		}
		for _, op := range s.ops {
			op(&fresh.st)
		}
		s.st, s.version = fresh.st, fresh.version
	}
	return fmt.Errorf("%w: console session keeps changing", realm.ErrUnavailable)
}

// write stores st if the row is still at s.version: ok is false when
// another write came first. A session gone meanwhile counts as written.
func (m *sessions) write(ctx context.Context, s *liveSession, st *sessionState, now time.Time) (bool, error) {
	data, err := m.sealState(s.idHash, st)
	if err != nil {
		return false, err
	}
	v, err := m.store.UpdateConsoleSession(ctx, s.idHash, data, now, s.version)
	switch {
	case err == nil:
		s.version = v
		return true, nil
	case errors.Is(err, realm.ErrNotFound):
		return true, nil
	case errors.Is(err, realm.ErrConflict):
		return false, nil
	}
	return false, err
}

// claimRefresh marks s as being refreshed by this request, only if no
// other request (on any node) wrote the session since it was read and
// none is refreshing it now. Unlike save, a lost race is not replayed: the
// winner's tokens are the ones to use.
func (m *sessions) claimRefresh(ctx context.Context, s *liveSession, now time.Time) (bool, error) {
	if now.Before(s.st.RefreshingUntil) {
		return false, nil
	}
	st := s.st
	st.RefreshingUntil = now.Add(refreshTimeout + 5*time.Second)
	ok, err := m.write(ctx, s, &st, now)
	if ok && err == nil {
		s.st, s.ops = st, nil
	}
	return ok && err == nil, err
}

// takeSecret returns the waiting secret of realmName's clientID and
// removes it from the session, strictly: only the request whose removal
// is written first gets it, so two nodes showing the client's page at the
// same moment never both show the secret. nil when there is none (or it
// expired).
func (m *sessions) takeSecret(ctx context.Context, s *liveSession, realmName, clientID string, now time.Time) (*shownSecret, error) {
	for range saveTries {
		sec := s.st.secretFor(realmName, clientID)
		if sec == nil {
			return nil, nil
		}
		st := s.st.withoutSecret(realmName, clientID)
		ok, err := m.write(ctx, s, &st, now)
		if err != nil {
			return nil, err
		}
		if ok {
			s.st, s.ops = st, nil // written with this request's other changes
			if now.Before(sec.Expires) {
				return sec, nil
			}
			return nil, nil
		}
		fresh, err := m.loadHash(ctx, s.idHash, now)
		if err != nil || fresh == nil {
			return nil, err
		}
		// This request's own changes so far go on the newer copy.
		for _, op := range s.ops {
			op(&fresh.st)
		}
		s.st, s.version = fresh.st, fresh.version
	}
	return nil, fmt.Errorf("%w: console session keeps changing", realm.ErrUnavailable)
}

// claimForm records, only if no other request wrote the session since it
// was read, that the form key is being handled (an empty target).
func (m *sessions) claimForm(ctx context.Context, s *liveSession, key string, now time.Time) (bool, error) {
	st := s.st
	st.Forms = make(map[string]string, len(s.st.Forms)+1)
	for k, v := range s.st.Forms {
		st.Forms[k] = v
	}
	st.Forms[key] = ""
	st.FormOrder = append(append([]string{}, s.st.FormOrder...), key)
	for len(st.FormOrder) > maxForms {
		delete(st.Forms, st.FormOrder[0])
		st.FormOrder = st.FormOrder[1:]
	}
	ok, err := m.write(ctx, s, &st, now)
	if ok && err == nil {
		s.st, s.ops = st, nil
	}
	return ok && err == nil, err
}

// awaitChange waits until the session's row moves past s.version (another
// request finished its refresh) or the refresh it waits for is overdue,
// and returns the newer copy; nil when the session is gone.
func (m *sessions) awaitChange(ctx context.Context, s *liveSession, now func() time.Time) (*liveSession, error) {
	for {
		fresh, err := m.loadHash(ctx, s.idHash, now())
		if err != nil || fresh == nil {
			return nil, err
		}
		if fresh.version != s.version || !now().Before(fresh.st.RefreshingUntil) {
			return fresh, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for a token refresh: %v", realm.ErrUnavailable, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (m *sessions) remove(ctx context.Context, idHash []byte) error {
	return m.store.DeleteConsoleSession(ctx, idHash)
}

func (m *sessions) sealState(idHash []byte, st *sessionState) ([]byte, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("console session: %w", err)
	}
	return m.seal.sealBytes(plain, sessionAD(idHash)), nil
}

// sessionAD binds a sealed session to its row.
func sessionAD(idHash []byte) []byte { return append([]byte("ward console session "), idHash...) }

// randomString is 256 random bits, URL-safe (43 characters).
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
