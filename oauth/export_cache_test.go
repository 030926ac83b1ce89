package oauth

import "context"

// VerifiedTokens is how many tokens s's provider of the realm named name
// remembers as verified (TestIntrospectionCacheStaysExact).
func VerifiedTokens(ctx context.Context, s *Server, name string) (int, error) {
	p, err := s.providers.get(ctx, name)
	if err != nil {
		return 0, err
	}
	return p.verified.len(), nil
}

// KeptIntrospectionsUsed and KeptClientsUsed are how many introspections
// and client reads s answered from a kept read (kept.go).
func KeptIntrospectionsUsed(s *Server) uint64 { return s.keptIntrospectionsUsed.Load() }
func KeptClientsUsed(s *Server) uint64        { return s.keptClientsUsed.Load() }
