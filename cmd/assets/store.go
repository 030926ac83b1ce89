package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3/gormlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Permissions an ACL entry grants; each matches one action.
const (
	PermRead   = "READ"
	PermWrite  = "WRITE"
	PermDelete = "DELETE"
)

// permissionFor is the ACL permission that covers an action ("" for
// actions only policies and ownership grant, such as create and manage).
func permissionFor(action string) string {
	switch action {
	case "read":
		return PermRead
	case "write":
		return PermWrite
	case "delete":
		return PermDelete
	}
	return ""
}

// Asset is the metadata of one asset.
type Asset struct {
	ID         string `gorm:"primaryKey" json:"id"`
	Name       string `gorm:"not null" json:"name"`
	Department string `gorm:"not null;index" json:"department"`
	Owner      string `gorm:"not null;index" json:"owner"`
	// Path places the asset in a directory tree; temporary keys are
	// scoped to parts of it (dir_scope, CONTRACT §6). Assets made before
	// paths existed are at the root.
	Path      string    `gorm:"not null;default:'/'" json:"path"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ACLEntry grants permissions on an asset to a user (by token sub) or to a
// group (by name, as tokens carry them).
type ACLEntry struct {
	AssetID     string `gorm:"primaryKey"`
	Kind        string `gorm:"primaryKey"` // "user" or "group"
	Principal   string `gorm:"primaryKey"`
	Permissions string `gorm:"not null"` // comma-separated, sorted
}

// Share is a link that opens one asset without a token. Only the token's
// SHA-256 is kept.
type Share struct {
	ID        string `gorm:"primaryKey"`
	AssetID   string `gorm:"not null;index"`
	TokenHash []byte `gorm:"not null;uniqueIndex"`
	ExpiresAt time.Time
	MaxUses   int // 0: no limit
	Uses      int
	RevokedAt *time.Time
	CreatedBy string
	CreatedAt time.Time
}

// Store keeps assets, ACLs and shares.
type Store struct {
	db    *gorm.DB
	clock func() time.Time
}

// Errors the handlers turn into statuses.
var (
	errNotFound = errors.New("not found")
	errGone     = errors.New("gone")
	// errChanged: the asset changed between the permission check and the
	// write, so the check no longer stands.
	errChanged = errors.New("changed")
)

// OpenStore opens (creating) the SQLite database named by dsn
// ("sqlite:PATH" or "sqlite::memory:") and creates its tables.
func OpenStore(dsn string, clock func() time.Time) (*Store, error) {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok || path == "" {
		return nil, fmt.Errorf("ASSETS_DB must be sqlite:PATH or sqlite::memory:, got %q", dsn)
	}
	uri := "file::memory:"
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		uri = "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=foreign_keys(1)&_txlock=immediate"
	}
	db, err := gorm.Open(gormlite.Open(uri), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(1) // SQLite: one writer; also keeps a memory database alive
	if err := db.AutoMigrate(&Asset{}, &ACLEntry{}, &Share{}); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = time.Now
	}
	return &Store{db: db, clock: clock}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

func newID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic("assets: random source failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateAsset stores a new asset at path owned by owner.
func (s *Store) CreateAsset(ctx context.Context, name, department, path, owner string) (*Asset, error) {
	now := s.clock().UTC()
	a := &Asset{ID: newID(), Name: name, Department: department, Path: path, Owner: owner, CreatedAt: now, UpdatedAt: now}
	return a, s.db.WithContext(ctx).Create(a).Error
}

// GetAsset returns the asset or errNotFound.
func (s *Store) GetAsset(ctx context.Context, id string) (*Asset, error) {
	var a Asset
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errNotFound
	}
	return &a, err
}

// ListAssets returns every asset, oldest first.
func (s *Store) ListAssets(ctx context.Context) ([]Asset, error) {
	var out []Asset
	return out, s.db.WithContext(ctx).Order("created_at, id").Find(&out).Error
}

// UpdateAsset changes name, department and path (empty: unchanged) of the
// asset as it was when the change was allowed (decided): if what a
// decision reads of it (name, department, owner, path) has changed since,
// it is errChanged and nothing is written.
func (s *Store) UpdateAsset(ctx context.Context, decided *Asset, name, department, path string) (*Asset, error) {
	id := decided.ID
	var out *Asset
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a Asset
		if err := tx.Where("id = ?", id).Take(&a).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errNotFound
			}
			return err
		}
		if a.Name != decided.Name || a.Department != decided.Department || a.Owner != decided.Owner || a.Path != decided.Path {
			return errChanged
		}
		if name != "" {
			a.Name = name
		}
		if department != "" {
			a.Department = department
		}
		if path != "" {
			a.Path = path
		}
		a.UpdatedAt = s.clock().UTC()
		out = &a
		return tx.Save(&a).Error
	})
	return out, err
}

// DeleteAsset deletes the asset with its ACL and shares.
func (s *Store) DeleteAsset(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&Asset{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errNotFound
		}
		if err := tx.Where("asset_id = ?", id).Delete(&ACLEntry{}).Error; err != nil {
			return err
		}
		return tx.Where("asset_id = ?", id).Delete(&Share{}).Error
	})
}

// SetACL replaces the asset's ACL in one transaction.
func (s *Store) SetACL(ctx context.Context, assetID string, entries []ACLEntry) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Asset{}).Where("id = ?", assetID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return errNotFound
		}
		if err := tx.Where("asset_id = ?", assetID).Delete(&ACLEntry{}).Error; err != nil {
			return err
		}
		for i := range entries {
			entries[i].AssetID = assetID
		}
		if len(entries) == 0 {
			return nil
		}
		return tx.Create(&entries).Error
	})
}

// ACL returns the asset's entries.
func (s *Store) ACL(ctx context.Context, assetID string) ([]ACLEntry, error) {
	var out []ACLEntry
	return out, s.db.WithContext(ctx).Where("asset_id = ?", assetID).Order("kind, principal").Find(&out).Error
}

// Granted reports whether the ACL of the asset grants perm to the user sub
// or to one of groups.
func (s *Store) Granted(ctx context.Context, assetID, sub string, groups []string, perm string) (bool, error) {
	if perm == "" {
		return false, nil
	}
	var entries []ACLEntry
	q := s.db.WithContext(ctx).Where("asset_id = ?", assetID)
	if len(groups) > 0 {
		q = q.Where("((kind = 'user' AND principal = ?) OR (kind = 'group' AND principal IN ?))", sub, groups)
	} else {
		q = q.Where("kind = 'user' AND principal = ?", sub)
	}
	if err := q.Find(&entries).Error; err != nil {
		return false, err
	}
	for _, e := range entries {
		for _, p := range strings.Split(e.Permissions, ",") {
			if p == perm {
				return true, nil
			}
		}
	}
	return false, nil
}

func hashShareToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// CreateShare makes a share link for the asset; the token is returned once.
func (s *Store) CreateShare(ctx context.Context, assetID, by string, ttl time.Duration, maxUses int) (*Share, string, error) {
	if _, err := s.GetAsset(ctx, assetID); err != nil {
		return nil, "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock().UTC()
	sh := &Share{ID: newID(), AssetID: assetID, TokenHash: hashShareToken(token), ExpiresAt: now.Add(ttl),
		MaxUses: maxUses, CreatedBy: by, CreatedAt: now}
	return sh, token, s.db.WithContext(ctx).Create(sh).Error
}

// OpenShare counts one use of the link and returns its asset; errGone when
// the link expired, was revoked or has no uses left, errNotFound when there
// is no such link. The use is counted with one conditional UPDATE, so
// concurrent opens never exceed MaxUses.
func (s *Store) OpenShare(ctx context.Context, token string) (*Asset, error) {
	now := s.clock().UTC()
	var asset *Asset
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var sh Share
		if err := tx.Where("token_hash = ?", hashShareToken(token)).Take(&sh).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errNotFound
			}
			return err
		}
		res := tx.Model(&Share{}).
			Where("id = ? AND revoked_at IS NULL AND expires_at > ? AND (max_uses = 0 OR uses < max_uses)", sh.ID, now).
			Update("uses", gorm.Expr("uses + 1"))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errGone
		}
		var a Asset
		if err := tx.Where("id = ?", sh.AssetID).Take(&a).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errGone
			}
			return err
		}
		asset = &a
		return nil
	})
	return asset, err
}

// RevokeShare revokes a link of the asset.
func (s *Store) RevokeShare(ctx context.Context, assetID, shareID string) error {
	now := s.clock().UTC()
	res := s.db.WithContext(ctx).Model(&Share{}).Where("id = ? AND asset_id = ?", shareID, assetID).Update("revoked_at", now)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errNotFound
	}
	return nil
}

// GetShare returns a share of the asset (for its counter and state).
func (s *Store) GetShare(ctx context.Context, assetID, shareID string) (*Share, error) {
	var sh Share
	err := s.db.WithContext(ctx).Where("id = ? AND asset_id = ?", shareID, assetID).Take(&sh).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errNotFound
	}
	return &sh, err
}

// GrantedAssets returns the ids of the assets whose ACL grants perm to the
// user sub or to one of groups, so that a list is checked with one query
// instead of one per asset.
func (s *Store) GrantedAssets(ctx context.Context, sub string, groups []string, perm string) (map[string]bool, error) {
	out := map[string]bool{}
	if perm == "" {
		return out, nil
	}
	var entries []ACLEntry
	q := s.db.WithContext(ctx).Model(&ACLEntry{})
	if len(groups) > 0 {
		q = q.Where("((kind = 'user' AND principal = ?) OR (kind = 'group' AND principal IN ?))", sub, groups)
	} else {
		q = q.Where("kind = 'user' AND principal = ?", sub)
	}
	if err := q.Find(&entries).Error; err != nil {
		return nil, err
	}
	for _, e := range entries {
		for _, p := range strings.Split(e.Permissions, ",") {
			if p == perm {
				out[e.AssetID] = true
			}
		}
	}
	return out, nil
}
