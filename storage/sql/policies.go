package sql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardiam/ward/realm"
)

// policyModel is a row of policies; actions is a JSON array.
type policyModel struct {
	ID           string `gorm:"primaryKey"`
	RealmID      string
	Name         string
	NameLower    string
	Description  string
	ResourceType string
	Actions      string
	Condition    string
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt    time.Time `gorm:"autoUpdateTime:false"`
}

func (policyModel) TableName() string { return "policies" }

// policyNameTaken is the conflict for the (realm_id, name_lower) index,
// which the shared table of unique keys does not list.
var policyNameTaken = realm.Conflict("name", "a policy with this name already exists in the realm")

func toPolicy(p *realm.Policy) (policyModel, error) {
	actions, err := encodeJSON(p.Actions, "[]")
	if err != nil {
		return policyModel{}, fmt.Errorf("storage/sql: encode policy actions: %w", err)
	}
	return policyModel{ID: p.ID, RealmID: p.RealmID, Name: p.Name, NameLower: strings.ToLower(p.Name),
		Description: p.Description, ResourceType: p.ResourceType, Actions: actions, Condition: p.Condition,
		CreatedAt: dbTime(p.CreatedAt), UpdatedAt: dbTime(p.UpdatedAt)}, nil
}

func fromPolicy(m policyModel) (realm.Policy, error) {
	actions := []string{}
	if err := decodeJSON(m.Actions, &actions); err != nil {
		return realm.Policy{}, fmt.Errorf("storage/sql: decode actions of policy %s: %w", m.ID, err)
	}
	return realm.Policy{ID: m.ID, RealmID: m.RealmID, Name: m.Name, Description: m.Description,
		ResourceType: m.ResourceType, Actions: actions, Condition: m.Condition,
		CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt)}, nil
}

// policyErr maps a write's error, naming the policy name index's
// violation as a conflict on name.
func policyErr(err error) error {
	if ok, name := uniqueViolation(err); ok &&
		(name == "policies_realm_name_key" || name == "policies.realm_id, policies.name_lower") {
		return policyNameTaken
	}
	return mapErr(err)
}

// CreatePolicy inserts p.
func (s *Store) CreatePolicy(ctx context.Context, p *realm.Policy) error {
	m, err := toPolicy(p)
	if err != nil {
		return err
	}
	err = s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return policyErr(err)
}

// GetPolicy finds a policy of the realm.
func (s *Store) GetPolicy(ctx context.Context, realmID, id string) (*realm.Policy, error) {
	var m policyModel
	if err := s.q(ctx).Where("realm_id = ? AND id = ?", realmID, id).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	p, err := fromPolicy(m)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// ListPolicies lists the realm's policies by ID; Query matches name,
// description and resource type.
func (s *Store) ListPolicies(ctx context.Context, realmID string, opts realm.ListOptions) (realm.Page[realm.Policy], error) {
	db := whereQuery(s.q(ctx).Model(&policyModel{}).Where("realm_id = ?", realmID), opts.Query,
		"name", "description", "resource_type")
	rows, next, err := keysetPage(db, "id", opts.Cursor, clampLimit(opts.Limit), func(m policyModel) string { return m.ID })
	if err != nil {
		return realm.Page[realm.Policy]{}, mapErr(err)
	}
	items := make([]realm.Policy, len(rows))
	for i, m := range rows {
		if items[i], err = fromPolicy(m); err != nil {
			return realm.Page[realm.Policy]{}, err
		}
	}
	return pageOf(items, next), nil
}

// ListAllPolicies lists every policy of the realm by name. A realm has
// tens of policies, not thousands: they are all evaluated on each decision.
func (s *Store) ListAllPolicies(ctx context.Context, realmID string) ([]realm.Policy, error) {
	var rows []policyModel
	if err := s.q(ctx).Where("realm_id = ?", realmID).Order("name_lower, id").Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.Policy, len(rows))
	for i, m := range rows {
		p, err := fromPolicy(m)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// UpdatePolicy saves p's fields and update time.
func (s *Store) UpdatePolicy(ctx context.Context, p *realm.Policy) error {
	m, err := toPolicy(p)
	if err != nil {
		return err
	}
	res := s.q(ctx).Model(&policyModel{}).Where("realm_id = ? AND id = ?", p.RealmID, p.ID).Updates(map[string]any{
		"name":          m.Name,
		"name_lower":    m.NameLower,
		"description":   m.Description,
		"resource_type": m.ResourceType,
		"actions":       m.Actions,
		"condition":     m.Condition,
		"updated_at":    m.UpdatedAt,
	})
	if res.Error != nil {
		return policyErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// DeletePolicy removes the realm's policy.
func (s *Store) DeletePolicy(ctx context.Context, realmID, id string) error {
	res := s.q(ctx).Where("realm_id = ? AND id = ?", realmID, id).Delete(&policyModel{})
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}
