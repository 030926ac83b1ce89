package realm

// EventType names what an audit event records. Every type Ward records is
// a constant here and listed in EventTypes; recording calls take an
// EventType and are written with these constants, never with a literal.
type EventType string

// The event types, by the object they are about.
const (
	EventAPIKeyCreated     EventType = "api_key.created"
	EventAPIKeyDeactivated EventType = "api_key.deactivated"
	EventAPIKeyReactivated EventType = "api_key.reactivated"
	EventAPIKeyUpdated     EventType = "api_key.updated"

	EventAttributeCreated EventType = "attribute.created"
	EventAttributeDeleted EventType = "attribute.deleted"
	EventAttributeUpdated EventType = "attribute.updated"

	EventClientCreated       EventType = "client.created"
	EventClientDeactivated   EventType = "client.deactivated"
	EventClientGroupAdded    EventType = "client.group_added"
	EventClientGroupRemoved  EventType = "client.group_removed"
	EventClientReactivated   EventType = "client.reactivated"
	EventClientSecretRotated EventType = "client.secret_rotated"
	EventClientUpdated       EventType = "client.updated"

	EventGroupCreated EventType = "group.created"
	EventGroupDeleted EventType = "group.deleted"
	EventGroupUpdated EventType = "group.updated"

	EventIdentityProviderCreated EventType = "identity_provider.created"
	EventIdentityProviderDeleted EventType = "identity_provider.deleted"
	// EventIdentityProviderSignIn is a user signing in through a provider;
	// EventIdentityProviderSignInRefused one refused (its details say why).
	EventIdentityProviderSignIn        EventType = "identity_provider.sign_in"
	EventIdentityProviderSignInRefused EventType = "identity_provider.sign_in_refused"
	EventIdentityProviderUpdated       EventType = "identity_provider.updated"

	EventMailFailed EventType = "mail.failed"
	EventMailSent   EventType = "mail.sent"

	EventMemberCreated EventType = "member.created"
	EventMemberDeleted EventType = "member.deleted"
	EventMemberUpdated EventType = "member.updated"

	// EventNetworkRefused is a caller refused by an IP allow list
	// (CONTRACT §7); its details name the address and where.
	EventNetworkRefused EventType = "network.refused"

	EventOrgCreated EventType = "org.created"
	// Support access (CONTRACT §7): the owner's switch.
	EventOrgSupportAccessDisabled EventType = "org.support_access_disabled"
	EventOrgSupportAccessEnabled  EventType = "org.support_access_enabled"

	EventPermissionCreated EventType = "permission.created"
	EventPermissionDeleted EventType = "permission.deleted"
	EventPermissionUpdated EventType = "permission.updated"

	EventSecurityTemplateCreated       EventType = "security_template.created"
	EventSecurityTemplateDeleted       EventType = "security_template.deleted"
	EventSecurityTemplateTestKeyMinted EventType = "security_template.test_key_minted"
	EventSecurityTemplateUpdated       EventType = "security_template.updated"

	// EventSupportCall is one admin API call made with a support token;
	// its details name the method, route, path and the reason.
	EventSupportCall EventType = "support.call"
	// EventSupportTokenIssued is `ward support-token` issuing a token.
	EventSupportTokenIssued EventType = "support.token_issued"

	EventPolicyCreated EventType = "policy.created"
	EventPolicyDeleted EventType = "policy.deleted"
	EventPolicyUpdated EventType = "policy.updated"

	EventRealmCreated            EventType = "realm.created"
	EventRealmDeleted            EventType = "realm.deleted"
	EventRealmIPAllowListUpdated EventType = "realm.ip_allow_list_updated"
	EventRealmKeyRotated         EventType = "realm.key_rotated"
	EventRealmSettingsUpdated    EventType = "realm.settings_updated"
	EventRealmUpdated            EventType = "realm.updated"

	EventUserCreated      EventType = "user.created"
	EventUserDeactivated  EventType = "user.deactivated"
	EventUserGroupAdded   EventType = "user.group_added"
	EventUserGroupRemoved EventType = "user.group_removed"
	// EventUserIdentityLinked is a user linked to their account at an
	// identity provider (on its first sign-in there).
	EventUserIdentityLinked         EventType = "user.identity_linked"
	EventUserLockedOut              EventType = "user.locked_out"
	EventUserLoginFailed            EventType = "user.login_failed"
	EventUserPasswordResetRequested EventType = "user.password_reset_requested"
	EventUserPasswordSet            EventType = "user.password_set"
	EventUserReactivated            EventType = "user.reactivated"
	// EventUserSessionRevoked is an admin ending one of a user's
	// sign-ins; EventUserSignedOutEverywhere all of them.
	EventUserSessionRevoked        EventType = "user.session_revoked"
	EventUserSetPasswordLinkIssued EventType = "user.set_password_link_issued"
	// EventUserSignedIn is a successful sign-in at the login page or
	// through an identity provider (its details name the client and
	// address, and the provider), EventUserSignedOut a sign-out
	// through the end-session endpoint.
	EventUserSignedIn            EventType = "user.signed_in"
	EventUserSignedOut           EventType = "user.signed_out"
	EventUserSignedOutEverywhere EventType = "user.signed_out_everywhere"
	// EventUserTokenRefused is a refresh token of the user refused at the
	// token endpoint (revoked, reused, expired, or its session ended).
	EventUserTokenRefused EventType = "user.token_refused"
	// EventUserUnlocked is an admin lifting a user's sign-in lock.
	EventUserUnlocked EventType = "user.unlocked"
	EventUserUpdated  EventType = "user.updated"
)

// EventTypes is every event type Ward records, sorted; the console offers
// them in its type filter.
var EventTypes = []EventType{
	EventAPIKeyCreated, EventAPIKeyDeactivated, EventAPIKeyReactivated, EventAPIKeyUpdated,
	EventAttributeCreated, EventAttributeDeleted, EventAttributeUpdated,
	EventClientCreated, EventClientDeactivated, EventClientGroupAdded, EventClientGroupRemoved,
	EventClientReactivated, EventClientSecretRotated, EventClientUpdated,
	EventGroupCreated, EventGroupDeleted, EventGroupUpdated,
	EventIdentityProviderCreated, EventIdentityProviderDeleted, EventIdentityProviderSignIn,
	EventIdentityProviderSignInRefused, EventIdentityProviderUpdated,
	EventMailFailed, EventMailSent,
	EventMemberCreated, EventMemberDeleted, EventMemberUpdated,
	EventNetworkRefused,
	EventOrgCreated, EventOrgSupportAccessDisabled, EventOrgSupportAccessEnabled,
	EventPermissionCreated, EventPermissionDeleted, EventPermissionUpdated,
	EventPolicyCreated, EventPolicyDeleted, EventPolicyUpdated,
	EventRealmCreated, EventRealmDeleted, EventRealmIPAllowListUpdated, EventRealmKeyRotated, EventRealmSettingsUpdated, EventRealmUpdated,
	EventSecurityTemplateCreated, EventSecurityTemplateDeleted, EventSecurityTemplateTestKeyMinted, EventSecurityTemplateUpdated,
	EventSupportCall, EventSupportTokenIssued,
	EventUserCreated, EventUserDeactivated, EventUserGroupAdded, EventUserGroupRemoved, EventUserIdentityLinked,
	EventUserLockedOut, EventUserLoginFailed, EventUserPasswordResetRequested, EventUserPasswordSet,
	EventUserReactivated, EventUserSessionRevoked, EventUserSetPasswordLinkIssued,
	EventUserSignedIn, EventUserSignedOut, EventUserSignedOutEverywhere, EventUserTokenRefused,
	EventUserUnlocked, EventUserUpdated,
}
