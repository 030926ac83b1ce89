package oauth

import (
	"context"
	"time"
)

// Rows that only matter until they expire (revocations of access tokens,
// set-password links, codes, refresh tokens, login failure counts) would
// pile up forever; the janitor deletes them. Codes, refresh tokens and
// login failures are also swept now and then on their own paths; the
// janitor makes sure everything is swept even on a server whose traffic
// never takes those paths.

// Sweep deletes every kind of expired row once. Failures are logged; the
// next sweep tries again.
func (s *Server) Sweep(ctx context.Context) {
	now := s.clock()
	sweep := func(what string, del func(context.Context, time.Time) (int64, error), before time.Time) {
		n, err := del(ctx, before)
		if err != nil {
			s.log.WarnContext(ctx, "oauth: janitor: deleting expired rows", "rows", what, "err", err)
			return
		}
		if n > 0 {
			s.log.DebugContext(ctx, "oauth: janitor: deleted expired rows", "rows", what, "count", n)
		}
	}
	sweep("revoked_tokens", s.store.DeleteExpiredRevokedTokens, now)
	sweep("action_tokens", s.store.DeleteExpiredActionTokens, now)
	sweep("auth_requests", s.store.DeleteExpiredAuthRequests, now)
	sweep("refresh_tokens", s.store.DeleteExpiredRefreshTokens, now)
	sweep("login_failures", s.store.DeleteStaleLoginFailures, now.Add(-loginFailureTTL))
}
