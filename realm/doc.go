// Package realm is Ward's domain: organizations, console members, realms,
// attribute definitions, groups, users, clients, signing keys and audit
// events; their validation rules; the sentinel errors the HTTP layers map to
// statuses; the Store interfaces that storage backends implement; and Service,
// which enforces the rules (users are deactivated, never deleted; nothing
// crosses realms or organizations; every change leaves an audit event).
//
// It must not import storage, oauth, console or anything HTTP: requests flow
// cmd/ward → console/oauth → realm → storage, never back.
package realm
