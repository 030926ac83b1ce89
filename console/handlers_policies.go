package console

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// ---- policies ----

func (a *API) listPolicies(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	page, err := a.svc.ListPolicies(ctx(c), c.Param("realm"), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toPolicy))
}

func (a *API) createPolicy(c echo.Context) error {
	var req policyCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := a.svc.CreatePolicy(ctx(c), c.Param("realm"), realm.PolicyInput{Name: req.Name, Description: req.Description,
		ResourceType: req.ResourceType, Actions: req.Actions, Condition: req.Condition})
	if err != nil {
		return err
	}
	return created(c, p.ID, toPolicy(p))
}

func (a *API) getPolicy(c echo.Context) error {
	p, err := a.svc.GetPolicy(ctx(c), c.Param("realm"), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicy(p))
}

func (a *API) updatePolicy(c echo.Context) error {
	var req policyPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.PolicyPatch{
		Name:         patchValue(&pf, "name", req.Name),
		Description:  clearable(req.Description),
		ResourceType: patchValue(&pf, "resource_type", req.ResourceType),
		Actions:      patchValue(&pf, "actions", req.Actions),
		Condition:    patchValue(&pf, "condition", req.Condition),
	}
	if err := pf.err(); err != nil {
		return err
	}
	p, err := a.svc.UpdatePolicy(ctx(c), c.Param("realm"), c.Param("id"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicy(p))
}

func (a *API) deletePolicy(c echo.Context) error {
	if err := a.svc.DeletePolicy(ctx(c), c.Param("realm"), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type policyTestRequest struct {
	Subject      policyTestSubject `json:"subject"`
	ResourceType string            `json:"resource_type"`
	Action       string            `json:"action"`
	// Resource stays raw: it is decoded without UseNumber, so numbers are
	// float64 as a resource server's JSON would give them, which CEL
	// compares with any number (json.Number would be a string to CEL).
	Resource json.RawMessage `json:"resource"`
}

type policyTestSubject struct {
	UserID   string `json:"user_id"`
	ClientID string `json:"client_id"`
}

// testPolicies answers POST …/policies:test.
func (a *API) testPolicies(c echo.Context) error {
	var req policyTestRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var resource map[string]any
	if raw := bytes.TrimSpace(req.Resource); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &resource); err != nil {
			return realm.Invalid("resource", "must be a JSON object")
		}
	}
	res, err := a.svc.TestPolicies(ctx(c), c.Param("realm"), realm.PolicyTestInput{UserID: req.Subject.UserID,
		ClientID: req.Subject.ClientID, ResourceType: req.ResourceType, Action: req.Action, Resource: resource})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicyDecision(res))
}
