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

// KeptReadsUsed is how many introspections s answered from a kept read
// (introspect_cache.go).
func KeptReadsUsed(s *Server) uint64 { return s.keptReadsUsed.Load() }
