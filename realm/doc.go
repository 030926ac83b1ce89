// Package realm is Ward's domain: organizations, console members, realms,
// attribute definitions, groups, users, clients, signing keys and audit
// events (EventType); their validation rules; the sentinel errors and
// HTTPStatus, the one table from error to HTTP status that every HTTP layer
// uses; the Store interfaces that storage backends implement (all required
// parts of Store, checked by storage/conformance); and Service,
// which enforces the rules (users are deactivated, never deleted; nothing
// crosses realms or organizations; every change leaves an audit event).
//
// It must not import storage, oauth, console or anything HTTP: requests flow
// cmd/ward → console/oauth → realm → storage, never back.
//
// Service, file by file: access.go (principal and role checks, realm
// resolution), validate.go (input rules), system.go (console realm,
// bootstrap, set-password and setup links), orgs.go (members, org admin
// clients), realms.go, attributes.go, groups.go, users.go, clients.go,
// subjects.go (group membership rules and the effective-attribute merge,
// ClaimsOf, also used for token claims), keys.go (key rotation and a
// realm's first keys), policies.go, selfservice.go (set-password and reset
// links), mailer.go (link mails: the outbox and MailQueue), events.go, views.go.
//
// Decisions worth knowing:
//   - Every multi-row change runs in one Store.InTx together with its audit
//     event, so a refused or failed change leaves nothing behind.
//   - Realm creation and deletion are org-level events (empty RealmID), so
//     they outlive the realm's own log.
//   - Deleting an attribute that a group still sets is a conflict, like
//     changing its type: values must be cleared on purpose first.
//   - A group that is some subject's primary group cannot be deleted, and a
//     subject cannot leave its primary group until another is set.
//   - Values returned by Service never carry password or secret hashes;
//     plain secrets appear only in the results of create and rotate calls.
//   - Signing keys are made by the KeyMaker before the transaction (no
//     database work) and stored by the Service inside it. A realm's first
//     key for an algorithm, made on first use (EnsureSigningKey), is not a
//     change anyone asked for and leaves no event; a rotation does.
package realm
