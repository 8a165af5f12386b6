package issuer

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Error is an OAuth2 error response (RFC 6749 §5.2). Every handler failure is one of the
// sentinels below, possibly a copy with a specific description, and is written by writeError
// alone. Sentinels are never mutated.
type Error struct {
	// Code is the "error" member.
	Code string
	// Description is the "error_description" member: safe for clients, never a secret.
	Description string
	// Status is the HTTP status.
	Status int

	retryAfter time.Duration // sent as Retry-After when positive
	cause      error         // internal detail for logs; never sent
}

// Error returns "issuer: <code>: <description>".
func (e *Error) Error() string {
	s := "issuer: " + e.Code + ": " + e.Description
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Is reports whether target is an *Error with the same code and status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Status == e.Status
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.cause }

// with returns a copy with a specific description.
func (e *Error) with(description string) *Error {
	c := *e
	c.Description = description
	return &c
}

// wrap returns a copy that carries cause for logs.
func (e *Error) wrap(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// The protocol errors (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 8707 §2).
var (
	ErrInvalidRequest       = &Error{Code: "invalid_request", Description: "the request is malformed", Status: http.StatusBadRequest}
	ErrInvalidClient        = &Error{Code: "invalid_client", Description: "client authentication failed", Status: http.StatusUnauthorized}
	ErrInvalidGrant         = &Error{Code: "invalid_grant", Description: "the grant is invalid", Status: http.StatusBadRequest}
	ErrUnauthorizedClient   = &Error{Code: "unauthorized_client", Description: "the client is not authorized for this request", Status: http.StatusBadRequest}
	ErrUnsupportedGrantType = &Error{Code: "unsupported_grant_type", Description: "only grant_type=client_credentials is supported", Status: http.StatusBadRequest}
	ErrInvalidScope         = &Error{Code: "invalid_scope", Description: "the requested scope is invalid or not allowed", Status: http.StatusBadRequest}
	// ErrInvalidTarget: a requested resource or audience is not allowed (RFC 8707 §2).
	ErrInvalidTarget = &Error{Code: "invalid_target", Description: "the requested resource is not allowed for this client", Status: http.StatusBadRequest}
	// ErrTooManyRequests: too many failed client authentications; carries Retry-After.
	ErrTooManyRequests = &Error{Code: "too_many_requests", Description: "too many failed authentication attempts", Status: http.StatusTooManyRequests}
	// ErrUnavailable: a dependency (Redis, signing keys) failed; the client may retry.
	ErrUnavailable = &Error{Code: "temporarily_unavailable", Description: "the service is temporarily unavailable", Status: http.StatusServiceUnavailable}
	// ErrServer: an unexpected failure.
	ErrServer = &Error{Code: "server_error", Description: "internal error", Status: http.StatusInternalServerError}
)

// errorBody is the JSON error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError is the one boundary where errors become responses. An error that is not an
// *Error becomes server_error. invalid_client answers a request that used HTTP Basic with
// WWW-Authenticate: Basic (RFC 6749 §5.2).
func writeError(w http.ResponseWriter, err error, basic bool) {
	var e *Error
	if !errors.As(err, &e) {
		e = ErrServer
	}
	h := w.Header()
	if e.Code == ErrInvalidClient.Code && basic {
		h.Set("WWW-Authenticate", `Basic realm="torchgate", charset="UTF-8"`)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.Status, errorBody{Error: e.Code, Description: e.Description})
}

// writeJSON writes v with the no-store headers every issuer response carries (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
