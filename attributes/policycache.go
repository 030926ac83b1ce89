package attributes

import (
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
)

// PolicyCache remembers compiled conditions, so that compiling the same
// condition against the same attribute definitions again (every poll of a
// realm's policies, every policies:test) costs a map lookup instead of a
// CEL parse and check (0.2–6 ms). It is safe for concurrent use; when it
// holds max entries it starts over.
type PolicyCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]cachedProgram
}

type cachedProgram struct {
	program cel.Program
	err     error
}

// NewPolicyCache returns a cache of at most max compiled conditions (1,024
// when max < 1).
func NewPolicyCache(max int) *PolicyCache {
	if max < 1 {
		max = 1024
	}
	return &PolicyCache{max: max, entries: map[string]cachedProgram{}}
}

// Compile is CompilePolicy through the cache: the outcome (program or
// error) of a condition depends only on the condition and the definitions.
func (c *PolicyCache) Compile(p Policy, defs []Definition) (*CompiledPolicy, error) {
	key := cacheKey(p.Condition, defs)
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok {
		cp, err := CompilePolicy(p, defs)
		e = cachedProgram{err: err}
		if cp != nil {
			e.program = cp.program
		}
		c.mu.Lock()
		if len(c.entries) >= c.max {
			c.entries = map[string]cachedProgram{}
		}
		c.entries[key] = e
		c.mu.Unlock()
	}
	if e.err != nil {
		return nil, e.err
	}
	return &CompiledPolicy{Policy: p, program: e.program}, nil
}

// cacheKey is the condition with the definitions it was checked against
// (sorted, so their order does not matter; nil means unchecked names).
func cacheKey(condition string, defs []Definition) string {
	var b strings.Builder
	b.WriteString(condition)
	if defs == nil {
		b.WriteString("\x00-")
		return b.String()
	}
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	slices.Sort(names)
	for _, n := range names {
		b.WriteByte(0)
		b.WriteString(n)
	}
	return b.String()
}
