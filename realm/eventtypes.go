package realm

// EventTypes is every event type Ward records, in realm (the service's
// changes) and in oauth (sign-in failures, lockouts, key rotation). The
// console offers them as suggestions in its type filter. TestEventTypes
// reads the recording calls in the sources and fails when this list and
// what the code records differ, so a new event type must be added here.
var EventTypes = []string{
	"attribute.created", "attribute.deleted", "attribute.updated",
	"client.created", "client.deactivated", "client.group_added", "client.group_removed",
	"client.reactivated", "client.secret_rotated", "client.updated",
	"group.created", "group.deleted", "group.updated",
	"mail.failed",
	"member.created", "member.deleted", "member.updated",
	"org.created",
	"policy.created", "policy.deleted", "policy.updated",
	"realm.created", "realm.deleted", "realm.key_rotated", "realm.updated",
	"user.created", "user.deactivated", "user.group_added", "user.group_removed",
	"user.locked_out", "user.login_failed", "user.password_reset_requested", "user.password_set",
	"user.reactivated", "user.set_password_link_issued", "user.updated",
}
