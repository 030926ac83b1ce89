package realm

import "slices"

// Reads and writes of the Service hand back copies with the stored hashes
// cleared: the admin API must never show a password or secret hash, and
// clearing them here means no handler can leak one by accident. Code that
// needs hashes (login, token issuing) reads through Store.

// userView copies u without its password hash.
func userView(u *User) *User {
	if u == nil {
		return nil
	}
	c := *u
	c.PasswordHash = ""
	if c.Groups == nil {
		c.Groups = []string{}
	}
	return &c
}

// clientView copies c without its secret hashes.
func clientView(c *Client) *Client {
	if c == nil {
		return nil
	}
	v := *c
	v.SecretHash = nil
	v.PreviousSecretHash = nil
	if v.Groups == nil {
		v.Groups = []string{}
	}
	if v.Audience == nil {
		v.Audience = []string{}
	}
	if v.RedirectURIs == nil {
		v.RedirectURIs = []string{}
	}
	if v.WebOrigins == nil {
		v.WebOrigins = []string{}
	}
	v.DefaultScopes = nonNil(slices.Clone(v.DefaultScopes))
	// offline_access is listed exactly when the flag allows it, whatever
	// a row written outside the Service holds.
	v.OptionalScopes = slices.DeleteFunc(slices.Clone(nonNil(v.OptionalScopes)), func(s string) bool { return s == ScopeOfflineAccess })
	if v.AllowOfflineAccess {
		v.OptionalScopes = append(v.OptionalScopes, ScopeOfflineAccess)
	}
	return &v
}

func memberView(m *Member) *Member {
	if m == nil {
		return nil
	}
	c := *m
	c.Invited = m.User != nil && m.User.Active && m.User.PasswordHash == ""
	c.User = userView(m.User)
	return &c
}
