// Package console owns Ward's admin REST API (/admin/v1), the first-run
// setup page, admin-token authentication (AdminAuth, on oauth's narrow
// VerifyAccessToken), and, in console/ui, the server-rendered console.
//
// It turns HTTP requests into calls on realm.Service and the results back
// into JSON: request and response shapes (DTOs, snake_case) live here so that
// the domain types carry no wire format. Errors become RFC 9457 problem JSON
// in exactly one place, (*API).HandleError, with the status realm.HTTPStatus
// gives them.
//
// It must not hold business rules (role checks, validation of domain values,
// "users are never deleted"): those belong to realm.Service, which every
// handler calls with the caller's Principal on the context. It never talks to
// storage directly, and never writes a secret, token or hash to a log or to a
// response other than the one create/rotate response that shows a client
// secret once.
package console
