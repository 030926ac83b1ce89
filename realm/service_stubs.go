package realm

// TEMPORARY: signatures only, filled in by the service implementation.
// This file is deleted when service methods are implemented.

import (
	"context"
	"errors"
)

var errTODO = errors.New("realm: not implemented yet")

// EnsureSystem creates the console realm, its ES256 key and the public
// ward-console client when missing. Cheap when they exist.
func (s *Service) EnsureSystem(ctx context.Context) error { return errTODO }

// Bootstrap creates an org, its owner (console user + member) and one org
// admin client with role owner. Conflict if the org slug exists.
func (s *Service) Bootstrap(ctx context.Context, in BootstrapInput) (*BootstrapResult, error) {
	return nil, errTODO
}

// SetPasswordLink issues a set-password action token for a console or realm
// user and returns the path+query "/realms/{realm}/login-actions/set-password?token=…".
func (s *Service) SetPasswordLink(ctx context.Context, realmID, userID string) (string, error) {
	return "", errTODO
}

// NewSetupToken returns a one-time console setup token valid 1 h when no
// organization exists yet; ("", nil) otherwise.
func (s *Service) NewSetupToken(ctx context.Context) (string, error) { return "", errTODO }

func (s *Service) CurrentOrg(ctx context.Context) (*Org, error) { return nil, errTODO }
func (s *Service) ListMembers(ctx context.Context, o ListOptions) (Page[Member], error) {
	return Page[Member]{}, errTODO
}
func (s *Service) CreateMember(ctx context.Context, in MemberInput) (*Member, error) {
	return nil, errTODO
}
func (s *Service) GetMember(ctx context.Context, id string) (*Member, error) { return nil, errTODO }
func (s *Service) UpdateMember(ctx context.Context, id string, p MemberPatch) (*Member, error) {
	return nil, errTODO
}
func (s *Service) DeleteMember(ctx context.Context, id string) error { return errTODO }
func (s *Service) ListOrgClients(ctx context.Context, o ListOptions) (Page[Client], error) {
	return Page[Client]{}, errTODO
}
func (s *Service) CreateOrgClient(ctx context.Context, in OrgClientInput) (*Client, string, error) {
	return nil, "", errTODO
}
func (s *Service) GetOrgClient(ctx context.Context, clientID string) (*Client, error) {
	return nil, errTODO
}
func (s *Service) UpdateOrgClient(ctx context.Context, clientID string, p OrgClientPatch) (*Client, error) {
	return nil, errTODO
}
func (s *Service) RotateOrgClientSecret(ctx context.Context, clientID string, graceSeconds int) (*Client, string, error) {
	return nil, "", errTODO
}

func (s *Service) ListRealms(ctx context.Context, o ListOptions) (Page[Realm], error) {
	return Page[Realm]{}, errTODO
}
func (s *Service) CreateRealm(ctx context.Context, in RealmInput) (*Realm, error) {
	return nil, errTODO
}
func (s *Service) GetRealm(ctx context.Context, name string) (*Realm, error) { return nil, errTODO }
func (s *Service) UpdateRealm(ctx context.Context, name string, p RealmPatch) (*Realm, error) {
	return nil, errTODO
}
func (s *Service) DeleteRealm(ctx context.Context, name, confirm string) error { return errTODO }

func (s *Service) ListAttributes(ctx context.Context, realmName string) ([]Attribute, error) {
	return nil, errTODO
}
func (s *Service) CreateAttribute(ctx context.Context, realmName string, in AttributeInput) (*Attribute, error) {
	return nil, errTODO
}
func (s *Service) GetAttribute(ctx context.Context, realmName, name string) (*Attribute, error) {
	return nil, errTODO
}
func (s *Service) UpdateAttribute(ctx context.Context, realmName, name string, p AttributePatch) (*Attribute, error) {
	return nil, errTODO
}
func (s *Service) DeleteAttribute(ctx context.Context, realmName, name string) error { return errTODO }

func (s *Service) ListGroups(ctx context.Context, realmName string, o ListOptions) (Page[Group], error) {
	return Page[Group]{}, errTODO
}
func (s *Service) CreateGroup(ctx context.Context, realmName string, in GroupInput) (*Group, error) {
	return nil, errTODO
}
func (s *Service) GetGroup(ctx context.Context, realmName, id string) (*Group, error) {
	return nil, errTODO
}
func (s *Service) UpdateGroup(ctx context.Context, realmName, id string, p GroupPatch) (*Group, error) {
	return nil, errTODO
}
func (s *Service) DeleteGroup(ctx context.Context, realmName, id string) error { return errTODO }
func (s *Service) ListGroupMembers(ctx context.Context, realmName, id string, o ListOptions) (Page[GroupMember], error) {
	return Page[GroupMember]{}, errTODO
}

func (s *Service) ListUsers(ctx context.Context, realmName string, o ListOptions) (Page[User], error) {
	return Page[User]{}, errTODO
}
func (s *Service) CreateUser(ctx context.Context, realmName string, in UserInput) (*UserView, error) {
	return nil, errTODO
}
func (s *Service) GetUser(ctx context.Context, realmName, id string) (*UserView, error) {
	return nil, errTODO
}
func (s *Service) UpdateUser(ctx context.Context, realmName, id string, p UserPatch) (*UserView, error) {
	return nil, errTODO
}
func (s *Service) AddUserToGroup(ctx context.Context, realmName, id, groupID string) (*UserView, error) {
	return nil, errTODO
}
func (s *Service) RemoveUserFromGroup(ctx context.Context, realmName, id, groupID string) (*UserView, error) {
	return nil, errTODO
}

func (s *Service) ListClients(ctx context.Context, realmName string, o ListOptions) (Page[Client], error) {
	return Page[Client]{}, errTODO
}
func (s *Service) CreateClient(ctx context.Context, realmName string, in ClientInput) (*ClientView, string, error) {
	return nil, "", errTODO
}
func (s *Service) GetClient(ctx context.Context, realmName, clientID string) (*ClientView, error) {
	return nil, errTODO
}
func (s *Service) UpdateClient(ctx context.Context, realmName, clientID string, p ClientPatch) (*ClientView, error) {
	return nil, errTODO
}
func (s *Service) RotateClientSecret(ctx context.Context, realmName, clientID string, graceSeconds int) (*ClientView, string, error) {
	return nil, "", errTODO
}
func (s *Service) AddClientToGroup(ctx context.Context, realmName, clientID, groupID string) (*ClientView, error) {
	return nil, errTODO
}
func (s *Service) RemoveClientFromGroup(ctx context.Context, realmName, clientID, groupID string) (*ClientView, error) {
	return nil, errTODO
}

// ListEvents lists the audit log of a realm, or of the org when realmName
// is empty, newest first.
func (s *Service) ListEvents(ctx context.Context, realmName string, f EventFilter) (Page[Event], error) {
	return Page[Event]{}, errTODO
}

// SubjectClaims computes a subject's group names and effective attributes
// (no principal needed; used by token issuing). One store round trip for the
// groups, one for the definitions.
func (s *Service) SubjectClaims(ctx context.Context, realmID string, groupIDs []string, primaryGroup string) (groupNames []string, effective map[string]any, err error) {
	return nil, nil, errTODO
}
