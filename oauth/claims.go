package oauth

import (
	"context"
	"strings"
	"time"

	"github.com/wardiam/ward/realm"
)

// Token claims: a subject's groups and effective attributes (CONTRACT §3),
// from what the grant read with the subject and the realm's attribute
// definitions kept in memory per schema version.

type attributeDefs struct {
	version int64
	defs    []realm.Attribute
}

type cachedClaims struct {
	groups  []string
	attrs   map[string]any
	expires time.Time
}

// claimsSubject is what a subject's token claims come from, read with the
// subject in one query: its group IDs and primary group, the groups
// themselves and the realm's attribute schema version.
type claimsSubject struct {
	groupIDs []string
	primary  string
	groups   []realm.Group
	version  int64
}

// clientSubject is client fc as a claims subject.
func clientSubject(fc *fositeClient) claimsSubject {
	return claimsSubject{groupIDs: fc.c.Groups, primary: fc.c.PrimaryGroup, groups: fc.groups, version: fc.schemaVersion}
}

// userSubject is the user of uc as a claims subject.
func userSubject(uc *realm.UserClaims) claimsSubject {
	return claimsSubject{groupIDs: uc.User.Groups, primary: uc.User.PrimaryGroup, groups: uc.Groups, version: uc.SchemaVersion}
}

// subjectClaims returns the groups and effective attributes of sub,
// through the claims cache when enabled. The values returned are shared
// and must only be read.
func (p *provider) subjectClaims(ctx context.Context, sub claimsSubject) ([]string, map[string]any, error) {
	s := p.s
	groupIDs, primary := sub.groupIDs, sub.primary
	if len(groupIDs) == 0 {
		return []string{}, map[string]any{}, nil
	}
	var key string
	if s.claimsTTL > 0 {
		key = primary + "\x00" + strings.Join(groupIDs, ",")
		if v, ok := p.claims.Load(key); ok {
			if c := v.(*cachedClaims); s.clock().Before(c.expires) {
				return c.groups, c.attrs, nil
			}
		}
	}
	// The groups came with the subject; only the definitions are needed,
	// and they are in memory unless the schema version moved.
	defs, err := p.attributeDefs(ctx, sub.version)
	if err != nil {
		return nil, nil, err
	}
	groups, attrs := realm.ClaimsOf(defs, sub.groups, primary)
	if groups == nil {
		groups = []string{}
	}
	if attrs == nil {
		attrs = map[string]any{}
	}
	if s.claimsTTL > 0 {
		p.claims.Store(key, &cachedClaims{groups: groups, attrs: attrs, expires: s.clock().Add(s.claimsTTL)})
	}
	return groups, attrs, nil
}

// attributeDefs returns the realm's attribute definitions at least as new
// as schema version (read with the client in the same query). Definitions
// read after seeing a version are never older than it, so keeping them
// under that version is safe; a newer version replaces them.
func (p *provider) attributeDefs(ctx context.Context, version int64) ([]realm.Attribute, error) {
	if d := p.defs.Load(); d != nil && d.version == version {
		return d.defs, nil
	}
	defs, err := p.s.store.ListAttributes(ctx, p.realm.ID)
	if err != nil {
		return nil, err
	}
	next := &attributeDefs{version: version, defs: defs}
	for {
		old := p.defs.Load()
		if old != nil && old.version >= version {
			break // a request that saw a newer version got there first
		}
		if p.defs.CompareAndSwap(old, next) {
			break
		}
	}
	return defs, nil
}
