package oauth

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Every token, introspection and revocation request is a small
// urlencoded form, parsed before anything else. net/http's ParseForm
// reads the body into a buffer grown from 512 bytes, parses the media type
// and unescapes every key and value; for the usual body — a known length,
// no query string, nothing escaped — readPlainForm does the same work in
// one sized read, the values being substrings of the body. Its result is
// ParseForm's to the byte (TestPlainFormMatchesParseForm); any other
// request is left to ParseForm.

// errNotPlainForm: the request is not one readPlainForm reads; nothing of
// it has been read.
var errNotPlainForm = errors.New("oauth: not a plain form")

// plainFormMaxPairs bounds the pairs split here; a body with more goes
// through url.ParseQuery, whose own limits then apply.
const plainFormMaxPairs = 64

// readPlainForm sets req.PostForm and req.Form as req.ParseForm would, for
// a urlencoded POST of known length up to maxFormBytes without a query
// string; otherwise it returns errNotPlainForm having read nothing.
func readPlainForm(req *http.Request) error {
	if req.Method != http.MethodPost || req.URL.RawQuery != "" || req.ContentLength < 0 ||
		req.ContentLength > maxFormBytes || req.PostForm != nil ||
		req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return errNotPlainForm
	}
	buf := make([]byte, req.ContentLength)
	if _, err := io.ReadFull(req.Body, buf); err != nil {
		return err
	}
	body := string(buf)
	var post url.Values
	if strings.ContainsAny(body, "%+;") || strings.Count(body, "&") >= plainFormMaxPairs {
		var err error
		if post, err = url.ParseQuery(body); err != nil {
			return err
		}
	} else {
		post = splitPlainForm(body)
	}
	form := make(url.Values, len(post))
	for k, v := range post {
		form[k] = append([]string(nil), v...)
	}
	req.PostForm, req.Form = post, form
	return nil
}

// splitPlainForm is url.ParseQuery for a body with nothing to unescape or
// refuse: pairs split on '&', empty ones skipped, key and value on the
// first '='.
func splitPlainForm(body string) url.Values {
	v := make(url.Values, 4)
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		v[key] = append(v[key], value)
	}
	return v
}
