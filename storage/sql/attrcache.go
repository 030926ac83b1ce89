package sql

import (
	"fmt"
	"sync"
)

// attrCache holds decoded group attribute values by their stored JSON text,
// for the token path, which would otherwise decode the same few documents
// on every grant. It is exact, not a TTL cache: the key is the column's
// bytes as read in this very query, so a changed group is a different key
// and decodes afresh; equal text always decodes to equal values.
//
// The maps it returns are shared between calls and must only be read (the
// token path does: realm.ClaimsOf builds new values from them).
type attrCache struct {
	mu    sync.RWMutex
	m     map[string]map[string]any
	bytes int
}

// Bounds on what the cache holds; past either it starts over, which costs
// one decode per distinct document and keeps memory flat however many
// groups a database has.
const (
	attrCacheEntries = 4096
	attrCacheBytes   = 4 << 20
)

func newAttrCache() *attrCache { return &attrCache{m: map[string]map[string]any{}} }

// emptyAttrs is the shared value of "{}" and of an empty column.
var emptyAttrs = map[string]any{}

// get returns the values of group groupID's attribute JSON raw, decoding
// it on first sight. A nil cache (a transaction's Store) always decodes.
func (c *attrCache) get(groupID, raw string) (map[string]any, error) {
	if raw == "" || raw == "{}" {
		return emptyAttrs, nil
	}
	if c != nil {
		c.mu.RLock()
		v, ok := c.m[raw]
		c.mu.RUnlock()
		if ok {
			return v, nil
		}
	}
	v := map[string]any{}
	if err := decodeJSON(raw, &v); err != nil {
		return nil, fmt.Errorf("storage/sql: decode attributes of group %s: %w", groupID, err)
	}
	if c != nil {
		c.mu.Lock()
		if len(c.m) >= attrCacheEntries || c.bytes+len(raw) > attrCacheBytes {
			clear(c.m)
			c.bytes = 0
		}
		if _, ok := c.m[raw]; !ok {
			c.m[raw] = v
			c.bytes += len(raw)
		}
		c.mu.Unlock()
	}
	return v, nil
}
