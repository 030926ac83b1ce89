package realm

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wardiam/ward/attributes"
)

// ListAttributes lists a realm's attribute definitions by name.
func (s *Service) ListAttributes(ctx context.Context, realmName string) ([]Attribute, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return nil, err
	}
	return s.store.ListAttributes(ctx, r.ID)
}

// CreateAttribute defines an attribute.
func (s *Service) CreateAttribute(ctx context.Context, realmName string, in AttributeInput) (*Attribute, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	if in.Name == "" {
		v.Add("name", "is required")
	} else if !attributes.ValidName(in.Name) {
		v.Add("name", "must start with a lower-case letter, then only lower-case letters, digits and underscores (at most 63 characters)")
	}
	typ := attributes.Type(in.Type)
	checkAttrType(v, typ)
	desc := optionalText(v, "description", in.Description, maxDescriptionLen)
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	var attr *Attribute
	taken := fmt.Sprintf("attribute %q is already defined", in.Name)
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		if _, err := tx.GetAttribute(ctx, r.ID, in.Name); err == nil {
			return Conflict("name", taken)
		}
		now := s.now()
		attr = &Attribute{ID: s.newID(), RealmID: r.ID, Name: in.Name, Type: typ, Multi: in.Multi,
			Description: desc, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateAttribute(ctx, attr); err != nil {
			return asConflict(err, "name", taken)
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventAttributeCreated, "attribute", attr.Name,
			map[string]any{"type": string(attr.Type), "multi": attr.Multi}))
	})
	if err != nil {
		return nil, err
	}
	return attr, nil
}

func checkAttrType(v *ValidationError, t attributes.Type) {
	if !t.Valid() {
		v.Add("type", "must be one of string, integer, number, boolean, date")
	}
}

// GetAttribute returns one definition.
func (s *Service) GetAttribute(ctx context.Context, realmName, name string) (*Attribute, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return nil, err
	}
	return s.store.GetAttribute(ctx, r.ID, name)
}

// UpdateAttribute changes a definition. Changing type or multi while any
// group sets a value would leave values the schema no longer allows, so it
// is a conflict; the description may always change.
func (s *Service) UpdateAttribute(ctx context.Context, realmName, name string, p AttributePatch) (*Attribute, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	if p.Type != nil {
		checkAttrType(v, attributes.Type(*p.Type))
	}
	var desc string
	if p.Description != nil {
		desc = optionalText(v, "description", *p.Description, maxDescriptionLen)
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	var attr *Attribute
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		if attr, err = tx.GetAttribute(ctx, r.ID, name); err != nil {
			return err
		}
		var ch changed
		schemaField := ""
		if p.Type != nil && attributes.Type(*p.Type) != attr.Type {
			attr.Type = attributes.Type(*p.Type)
			ch.add("type")
			schemaField = "type"
		}
		if p.Multi != nil && *p.Multi != attr.Multi {
			attr.Multi = *p.Multi
			ch.add("multi")
			if schemaField == "" {
				schemaField = "multi"
			}
		}
		if p.Description != nil && desc != attr.Description {
			attr.Description = desc
			ch.add("description")
		}
		if len(ch) == 0 {
			return nil
		}
		if schemaField != "" {
			n, err := tx.CountGroupsUsingAttribute(ctx, r.ID, name)
			if err != nil {
				return err
			}
			if n > 0 {
				return Conflict(schemaField, fmt.Sprintf("attribute %q is set on %d group(s); remove those values before changing its type or multi", name, n))
			}
		}
		attr.UpdatedAt = s.now()
		if err := tx.UpdateAttribute(ctx, attr); err != nil {
			return err
		}
		d := ch.details()
		d["type"], d["multi"] = string(attr.Type), attr.Multi
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventAttributeUpdated, "attribute", attr.Name, d))
	})
	if err != nil {
		return nil, err
	}
	return attr, nil
}

// DeleteAttribute removes a definition. Deleting one that groups still set
// is a conflict (409), like changing its type: silently dropping the values
// would change subjects' effective attributes, and the stale values would
// come back to life if an attribute of the same name were defined again.
// Admins clear the values from the groups first, on purpose.
func (s *Service) DeleteAttribute(ctx context.Context, realmName, name string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		attr, err := tx.GetAttribute(ctx, r.ID, name)
		if err != nil {
			return err
		}
		n, err := tx.CountGroupsUsingAttribute(ctx, r.ID, name)
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflict("name", fmt.Sprintf("attribute %q is set on %d group(s); remove those values first", name, n))
		}
		if err := checkAttributeUnusedByPolicies(ctx, tx, r.ID, name); err != nil {
			return err
		}
		if err := tx.DeleteAttribute(ctx, r.ID, name); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventAttributeDeleted, "attribute", attr.Name,
			map[string]any{"type": string(attr.Type), "multi": attr.Multi}))
	})
}

// checkGroupValues validates raw group attribute values against the realm's
// definitions, naming each bad key as "attributes.<name>", and returns the
// normalized values. A nil value means "not set" and is dropped.
func checkGroupValues(v *ValidationError, defs []Attribute, raw map[string]any) map[string]any {
	byName := make(map[string]attributes.Definition, len(defs))
	for _, d := range defs {
		byName[d.Name] = d.Definition()
	}
	out := make(map[string]any, len(raw))
	for _, key := range sortedKeys(raw) {
		val := raw[key]
		if val == nil {
			continue
		}
		field := "attributes." + key
		def, ok := byName[key]
		if !ok {
			v.Add(field, "undefined attribute")
			continue
		}
		if !checkValueBounds(v, field, def, val) {
			continue
		}
		n, err := attributes.Normalize(def, val)
		if err != nil {
			v.Add(field, strings.TrimPrefix(err.Error(), attributes.ErrInvalidValue.Error()+": "))
			continue
		}
		out[key] = n
	}
	return out
}

// Bounds on one group's values, checked before anything else looks at
// them. Each value ends up in the tokens of the group's members, whose
// merged claims MaxClaimsBytes bounds; these keep a single value or list
// from being the whole budget, and the work on a hostile list small.
const (
	maxAttributeValues   = 200 // values of one multi-valued attribute
	maxAttributeValueLen = 256 // characters of one string value
)

// checkValueBounds names a list of more than maxAttributeValues values
// ("attributes.NAME") and each string value longer than
// maxAttributeValueLen ("attributes.NAME" or "attributes.NAME[i]"); it
// reports whether raw is within them.
func checkValueBounds(v *ValidationError, field string, def attributes.Definition, raw any) bool {
	ok := true
	checkLen := func(f string, x any) {
		if s, isString := x.(string); isString && def.Type == attributes.String && utf8.RuneCountInString(s) > maxAttributeValueLen {
			v.Add(f, fmt.Sprintf("must be at most %d characters", maxAttributeValueLen))
			ok = false
		}
	}
	list, isList := raw.([]any)
	if !isList || !def.Multi {
		checkLen(field, raw)
		return ok
	}
	if len(list) > maxAttributeValues {
		v.Add(field, fmt.Sprintf("must have at most %d values", maxAttributeValues))
		return false
	}
	for i, x := range list {
		checkLen(fmt.Sprintf("%s[%d]", field, i), x)
	}
	return ok
}
