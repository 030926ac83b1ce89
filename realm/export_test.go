package realm

// SetDeactivatedKeysListed lowers the bound of the policy document's list
// of deactivated API keys, so a test reaches it with a few keys.
func SetDeactivatedKeysListed(s *Service, n int) { s.deactivatedKeysListed = n }
