package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// maxBodyBytes is the admin API's request body limit (CONTRACT §2).
const maxBodyBytes = 1 << 20

// decodeJSON reads the request body into dst strictly: JSON content type,
// at most 1 MiB, no unknown fields, no key twice in an object, every
// string valid UTF-8 without control characters (tab and line breaks only
// in descriptions and policy conditions), exactly one JSON value. Numbers inside
// untyped values (attribute values) stay json.Number so integers keep their
// precision until the attribute schema decides what they are.
func decodeJSON(c echo.Context, dst any) error {
	return decode(c, dst, false)
}

// decodeOptionalJSON is decodeJSON for calls whose body may be left out
// entirely (secret rotation takes an optional {"grace_seconds":N}); dst then
// keeps its zero value.
func decodeOptionalJSON(c echo.Context, dst any) error {
	return decode(c, dst, true)
}

func decode(c echo.Context, dst any, optional bool) error {
	req := c.Request()
	if optional && req.ContentLength == 0 && req.Header.Get(echo.HeaderContentType) == "" {
		return nil
	}
	if err := checkJSONContentType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	body := http.MaxBytesReader(c.Response(), req.Body, maxBodyBytes)
	// Read it whole first: the limit error then surfaces before any parsing,
	// and an empty optional body can be told from a bad one.
	data, err := io.ReadAll(body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return tooLarge()
		}
		return err
	}
	switch string(bytes.TrimSpace(data)) {
	case "":
		if optional {
			return nil
		}
		return badRequest("the request body is empty; a JSON object is expected")
	case "null":
		// json would decode it into any struct as "nothing to change",
		// so a PATCH of null would answer 200.
		return badRequest("the request body is null; a JSON object is expected")
	}
	// Strings and keys are checked on the raw body: decoding would hide
	// invalid UTF-8 and duplicate keys (jsontext.go).
	if err := checkJSONText(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	// Exactly one value: `{}{}` or `{} x` is not a valid body.
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return badRequest("the request body has data after the JSON value")
	}
	return nil
}

func checkJSONContentType(ct string) error {
	if ct == "" {
		return unsupportedMedia("the request body must be application/json (Content-Type is missing)")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return unsupportedMedia("the request body must be application/json (Content-Type is malformed)")
	}
	if mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return unsupportedMedia(fmt.Sprintf("the request body must be application/json, not %s", mt))
}

// jsonError turns encoding/json's errors into 400 problems naming the field
// when json knows it.
func jsonError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		fieldErr  *fieldValueError
	)
	switch {
	case errors.As(err, &syntaxErr):
		return badRequest(fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &fieldErr):
		return &realm.ValidationError{Fields: []realm.FieldError{{Field: fieldErr.field, Message: fieldErr.msg}}}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest(fmt.Sprintf("the request body must be a JSON object, not %s", typeErr.Value))
		}
		return &realm.ValidationError{Fields: []realm.FieldError{{
			Field: typeErr.Field, Message: fmt.Sprintf("must be %s, not %s", jsonTypeName(typeErr.Type.String()), typeErr.Value),
		}}}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		return &realm.ValidationError{Fields: []realm.FieldError{{Field: name, Message: "unknown field"}}}
	}
	return badRequest("malformed JSON")
}

// jsonTypeName describes a Go type the way a JSON client thinks of it.
func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"):
		return "an object"
	}
	return "of a different type"
}

// fieldValueError is a value json accepted syntactically but this package
// rejects (null where null means nothing).
type fieldValueError struct{ field, msg string }

func (e *fieldValueError) Error() string { return e.field + ": " + e.msg }

// Optional is a PATCH field: Set tells a field that was present from one
// that was left out, Null a present JSON null. json calls UnmarshalJSON only
// for present fields, including for null.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// patchFields collects the conversion of Optional fields into the domain's
// pointer patches, with one validation error for every null that is not
// allowed.
type patchFields struct {
	errs realm.ValidationError
}

// patchValue returns a pointer to the new value, nil when absent; null is an
// error because the field cannot be empty.
func patchValue[T any](p *patchFields, field string, o Optional[T]) *T {
	if !o.Set {
		return nil
	}
	if o.Null {
		p.errs.Add(field, "must not be null")
		return nil
	}
	v := o.Value
	return &v
}

// clearable is patchValue for fields where null means "clear it" (the zero
// value).
func clearable[T any](o Optional[T]) *T {
	if !o.Set {
		return nil
	}
	v := o.Value // zero when Null
	return &v
}

func (p *patchFields) err() error { return p.errs.OrNil() }

// listOptions reads ?limit=&cursor=&q=.
func listOptions(c echo.Context) (realm.ListOptions, error) {
	limit, err := parseLimit(c)
	if err != nil {
		return realm.ListOptions{}, err
	}
	cursor, err := parseCursor(c)
	if err != nil {
		return realm.ListOptions{}, err
	}
	return realm.ListOptions{Limit: limit, Cursor: cursor, Query: c.QueryParam("q")}, nil
}

// cursorPattern is what next_cursor values look like: an ID (realm.NewID),
// prefixed with its kind in group member lists.
var cursorPattern = regexp.MustCompile(`^((user|client):)?[0-9a-z]{26}$`)

// parseCursor reads ?cursor=, which must be a next_cursor this API gave:
// anything else is a mistake worth a clear 400, not a silently odd page.
func parseCursor(c echo.Context) (string, error) {
	s := c.QueryParam("cursor")
	if s != "" && !cursorPattern.MatchString(s) {
		return "", realm.Invalid("cursor", "must be a next_cursor from a previous page")
	}
	return s, nil
}

// Page sizes (realm.ListOptions): the service defaults 0 to 50.
const maxLimit = 200

func parseLimit(c echo.Context) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, realm.Invalid("limit", fmt.Sprintf("must be an integer from 1 to %d", maxLimit))
	}
	return n, nil
}

// eventFilter reads ?type=&since=&until=&actor_id=&target_id=&limit=&cursor=.
func eventFilter(c echo.Context) (realm.EventFilter, error) {
	limit, err := parseLimit(c)
	if err != nil {
		return realm.EventFilter{}, err
	}
	cursor, err := parseCursor(c)
	if err != nil {
		return realm.EventFilter{}, err
	}
	f := realm.EventFilter{Type: realm.EventType(c.QueryParam("type")), Limit: limit, Cursor: cursor,
		ActorID: c.QueryParam("actor_id"), TargetID: c.QueryParam("target_id")}
	for name, into := range map[string]**time.Time{"since": &f.Since, "until": &f.Until} {
		if s := c.QueryParam(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return realm.EventFilter{}, realm.Invalid(name, "must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z")
			}
			t = t.UTC()
			*into = &t
		}
	}
	return f, nil
}
