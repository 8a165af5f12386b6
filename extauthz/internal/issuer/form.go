package issuer

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// MaxBodyBytes caps a request body.
const MaxBodyBytes = 64 << 10

// form is a parsed request body in which every parameter but "resource" occurs at most once.
type form url.Values

// get returns a parameter's value; "Parameters sent without a value MUST be treated as if they
// were omitted from the request" (RFC 6749 §3.1), so an empty value reads as absent.
func (f form) get(name string) string {
	if v := f[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readForm reads an application/x-www-form-urlencoded POST body of at most MaxBodyBytes.
// RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once", so a
// repeated parameter is invalid_request; only RFC 8707 "resource" may repeat. Parameters in the
// URL query are refused, so credentials never sit in a URL.
func readForm(w http.ResponseWriter, r *http.Request) (form, error) {
	if r.Method != http.MethodPost {
		return nil, ErrInvalidRequest.with("the method must be POST")
	}
	if r.URL.RawQuery != "" {
		return nil, ErrInvalidRequest.with("parameters must be sent in the request body")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, ErrInvalidRequest.with("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, ErrInvalidRequest.with("the request body is too large")
		}
		return nil, ErrInvalidRequest.with("the request body could not be read")
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, ErrInvalidRequest.with("the request body is not valid form encoding")
	}
	for name, vals := range v {
		if len(vals) > 1 && name != "resource" {
			return nil, ErrInvalidRequest.with("a parameter is repeated")
		}
	}
	return form(v), nil
}
