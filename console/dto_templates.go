package console

import (
	"time"

	"github.com/wardiam/ward/realm"
)

// securityTemplateDTO is a security template as the admin API shows it
// (CONTRACT §6): lists are always arrays, a limit is null when unset.
type securityTemplateDTO struct {
	ID                        string    `json:"id"`
	Name                      string    `json:"name"`
	Description               string    `json:"description"`
	Permissions               []string  `json:"permissions"`
	TTLSeconds                int       `json:"ttl_seconds"`
	LimitPerMinute            *int      `json:"limit_per_minute"`
	LimitPerSourceIPPerMinute *int      `json:"limit_per_source_ip_per_minute"`
	DirScope                  []string  `json:"dir_scope"`
	IPRanges                  []string  `json:"ip_ranges"`
	Countries                 []string  `json:"countries"`
	CreatedAt                 time.Time `json:"created_at"`
	UpdatedAt                 time.Time `json:"updated_at"`
}

func toSecurityTemplate(t *realm.SecurityTemplate) securityTemplateDTO {
	return securityTemplateDTO{ID: t.ID, Name: t.Name, Description: t.Description, Permissions: nonNil(t.Permissions),
		TTLSeconds: t.TTLSeconds, LimitPerMinute: t.LimitPerMinute, LimitPerSourceIPPerMinute: t.LimitPerSourceIPPerMinute,
		DirScope: nonNil(t.DirScope), IPRanges: nonNil(t.IPRanges), Countries: nonNil(t.Countries),
		CreatedAt: utc(t.CreatedAt), UpdatedAt: utc(t.UpdatedAt)}
}

// securityTemplateCreateRequest: a left-out (or null) ttl_seconds is the
// default, a left-out (or null) limit is no limit, a left-out list empty.
type securityTemplateCreateRequest struct {
	Name                      string   `json:"name"`
	Description               string   `json:"description"`
	Permissions               []string `json:"permissions"`
	TTLSeconds                *int     `json:"ttl_seconds"`
	LimitPerMinute            *int     `json:"limit_per_minute"`
	LimitPerSourceIPPerMinute *int     `json:"limit_per_source_ip_per_minute"`
	DirScope                  []string `json:"dir_scope"`
	IPRanges                  []string `json:"ip_ranges"`
	Countries                 []string `json:"countries"`
}

// securityTemplatePatchRequest: a left-out field stays as it is; null
// removes a limit and is refused for every other field. The name does not
// change (it is an unknown field here).
type securityTemplatePatchRequest struct {
	Description               Optional[string]   `json:"description"`
	Permissions               Optional[[]string] `json:"permissions"`
	TTLSeconds                Optional[int]      `json:"ttl_seconds"`
	LimitPerMinute            Optional[int]      `json:"limit_per_minute"`
	LimitPerSourceIPPerMinute Optional[int]      `json:"limit_per_source_ip_per_minute"`
	DirScope                  Optional[[]string] `json:"dir_scope"`
	IPRanges                  Optional[[]string] `json:"ip_ranges"`
	Countries                 Optional[[]string] `json:"countries"`
}

// limitChange turns a PATCH limit into the domain's change: nil when left
// out, a nil Limit for null (no limit).
func limitChange(o Optional[int]) *realm.LimitChange {
	if !o.Set {
		return nil
	}
	if o.Null {
		return &realm.LimitChange{}
	}
	v := o.Value
	return &realm.LimitChange{Limit: &v}
}
