package sql

import (
	"context"
	dbsql "database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"
	"gorm.io/gorm"

	"github.com/wardiam/ward/realm"
)

// uniqueKey describes one unique constraint: its Postgres name, the
// "table.column, ..." list SQLite reports, and the conflict to return.
type uniqueKey struct {
	index  string
	sqlite string
	field  string
	reason string
}

var uniqueKeys = []uniqueKey{
	{"orgs_pkey", "orgs.id", "id", "an organization with this ID already exists"},
	{"orgs_slug_key", "orgs.slug", "slug", "an organization with this slug already exists"},
	{"realms_pkey", "realms.id", "id", "a realm with this ID already exists"},
	{"realms_name_key", "realms.name", "name", "a realm with this name already exists"},
	{"attributes_pkey", "attributes.id", "id", "an attribute with this ID already exists"},
	{"attributes_realm_name_key", "attributes.realm_id, attributes.name", "name", "an attribute with this name already exists in the realm"},
	{"groups_pkey", "groups.id", "id", "a group with this ID already exists"},
	{"groups_realm_name_key", "groups.realm_id, groups.name_lower", "name", "a group with this name already exists in the realm"},
	{"users_pkey", "users.id", "id", "a user with this ID already exists"},
	{"users_realm_email_key", "users.realm_id, users.email_lower", "email", "a user with this email already exists in the realm"},
	{"members_pkey", "members.id", "id", "a member with this ID already exists"},
	{"members_org_user_key", "members.org_id, members.user_id", "user_id", "this user is already a member of the organization"},
	{"clients_pkey", "clients.id", "id", "a client with this ID already exists"},
	{"clients_realm_client_id_key", "clients.realm_id, clients.client_id", "client_id", "a client with this client_id already exists in the realm"},
	{"signing_keys_pkey", "signing_keys.id", "id", "a signing key with this ID already exists"},
	{"events_pkey", "events.id", "id", "an event with this ID already exists"},
	{"setup_tokens_pkey", "setup_tokens.hash", "token", "this setup token already exists"},
	{"action_tokens_pkey", "action_tokens.hash", "token", "this action token already exists"},
	{"user_groups_pkey", "user_groups.user_id, user_groups.group_id", "groups", "a group is listed twice"},
	{"client_groups_pkey", "client_groups.client_pk, client_groups.group_id", "groups", "a group is listed twice"},
	{"identity_providers_pkey", "identity_providers.id", "id", "an identity provider with this ID already exists"},
	{"identity_providers_realm_alias_key", "identity_providers.realm_id, identity_providers.alias", "alias", "an identity provider with this alias already exists in the realm"},
	{"user_identities_pkey", "user_identities.realm_id, user_identities.provider_id, user_identities.subject", "subject", "this subject is already linked to a user at the identity provider"},
	{"user_identities_provider_user_key", "user_identities.realm_id, user_identities.provider_id, user_identities.user_id", "user_id", "this user is already linked to a subject at the identity provider"},
	{"broker_states_pkey", "broker_states.realm_id, broker_states.id", "state", "a sign-in with this state is already in flight"},
}

// mapErr turns driver errors into the realm sentinels: missing rows into
// ErrNotFound, unique violations into *ConflictError naming the field.
// Anything else is returned as is.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return realm.ErrNotFound
	}
	if ok, name := uniqueViolation(err); ok {
		for _, k := range uniqueKeys {
			if name == k.index || name == k.sqlite {
				return realm.Conflict(k.field, k.reason)
			}
		}
		return realm.Conflict("", "already exists")
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", realm.ErrUnavailable, err)
	}
	return err
}

// unavailable reports whether err means the database could not be reached
// or did not answer in time, as opposed to a bad statement or bad data: the
// request may work later, and callers answer 503.
func unavailable(err error) bool {
	if errors.Is(err, realm.ErrUnavailable) {
		return false // already wrapped
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	var se *sqlite3.Error
	switch {
	case errors.As(err, &se):
		// Decided by its code alone, and before net.Error: *sqlite3.Error
		// has Timeout and Temporary methods, so it is a net.Error, and
		// every SQLite error (a LIKE pattern too long for it, say) was
		// taken for an outage. What the request sent is not an outage.
		switch se.Code() {
		case sqlite3.BUSY, sqlite3.LOCKED, sqlite3.IOERR, sqlite3.CANTOPEN, sqlite3.FULL, sqlite3.INTERRUPT:
			return true
		}
		return false
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, dbsql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &netErr), errors.As(err, &connErr), pgconn.Timeout(err):
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exception; 53: insufficient resources;
		// 57P: operator intervention (admin shutdown, cannot connect now).
		// Not class 22 (data exception: a NUL in text, say): that is
		// the request's fault.
		return strings.HasPrefix(pg.Code, "08") || strings.HasPrefix(pg.Code, "53") || strings.HasPrefix(pg.Code, "57P")
	}
	return false
}

// uniqueViolation reports whether err is a unique-constraint violation and
// names the constraint: the Postgres constraint name, or SQLite's column
// list ("users.realm_id, users.email_lower").
func uniqueViolation(err error) (bool, string) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505", pg.ConstraintName
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		code := se.ExtendedCode()
		if code != sqlite3.CONSTRAINT_UNIQUE && code != sqlite3.CONSTRAINT_PRIMARYKEY {
			return false, ""
		}
		msg := se.Error()
		const marker = "constraint failed: "
		if i := strings.LastIndex(msg, marker); i >= 0 {
			return true, strings.TrimSpace(msg[i+len(marker):])
		}
		return true, ""
	}
	return false, ""
}

// foreignKeyViolation reports whether err is a foreign-key violation.
func foreignKeyViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23503"
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode() == sqlite3.CONSTRAINT_FOREIGNKEY
	}
	return false
}

// oneRow is the outcome of an update or delete of one row by its key:
// the statement's error, or realm.ErrNotFound when it touched no row.
func oneRow(res *gorm.DB) error {
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}
