package sql

import (
	"strings"

	"gorm.io/gorm"

	"github.com/wardiam/ward/realm"
)

// Page sizes of ListOptions.Limit.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// likePattern makes a case-insensitive substring pattern for
// "LOWER(col) LIKE ? ESCAPE '\'", escaping the LIKE wildcards in q.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

// whereQuery adds "any of cols contains q" when q is set. cols are trusted
// column expressions, never user input.
func whereQuery(db *gorm.DB, q string, cols ...string) *gorm.DB {
	if q == "" {
		return db
	}
	pat := likePattern(q)
	parts := make([]string, len(cols))
	args := make([]any, len(cols))
	for i, c := range cols {
		parts[i] = "LOWER(" + c + `) LIKE ? ESCAPE '\'`
		args[i] = pat
	}
	return db.Where("("+strings.Join(parts, " OR ")+")", args...)
}

// keysetPage reads one ascending page of models keyed by idCol: rows after
// cursor, limit+1 of them to learn whether there is more.
func keysetPage[M any](db *gorm.DB, idCol, cursor string, limit int, id func(M) string) ([]M, string, error) {
	if cursor != "" {
		db = db.Where(idCol+" > ?", cursor)
	}
	var rows []M
	if err := db.Order(idCol).Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = id(rows[limit-1])
	}
	return rows, next, nil
}

// pageOf wraps converted items.
func pageOf[T any](items []T, next string) realm.Page[T] {
	if items == nil {
		items = []T{}
	}
	return realm.Page[T]{Items: items, NextCursor: next}
}
