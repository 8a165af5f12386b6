package token

import "errors"

// Error is a token verification failure. Reason is a stable machine code for metrics, audit
// logs and the decision mapping; Description is a short explanation safe to return to a client
// (it never holds the token or internal details). Sentinels of this type are never mutated:
// specific descriptions are given on copies, which still match the sentinel under errors.Is.
type Error struct {
	Reason      string
	Description string
	cause       error // internal detail for logs (e.g. a JWKS fetch failure); never shown to clients
}

// Error returns "token: <reason>: <description>", followed by the internal cause when there is
// one.
func (e *Error) Error() string {
	s := "token: " + e.Reason + ": " + e.Description
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Is reports whether target is an *Error with the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Unwrap returns the internal cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// with returns a copy of e with a specific description.
func (e *Error) with(description string) *Error {
	c := *e
	c.Description = description
	return &c
}

// wrap returns a copy of e that carries cause for logs.
func (e *Error) wrap(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// Verification failures, one per reason code, and the configuration error of NewVerifier.
var (
	// ErrMissing: the request carried no bearer token (RFC 6750 §3.1: no error code is sent).
	ErrMissing = &Error{Reason: "missing_token", Description: "no bearer token in the request"}
	// ErrMalformed: the header or the token is not a well-formed bearer JWT.
	ErrMalformed = &Error{Reason: "malformed", Description: "the access token is malformed"}
	// ErrTooLarge: the Authorization header exceeds the size cap.
	ErrTooLarge = &Error{Reason: "token_too_large", Description: "the authorization header is too large"}
	// ErrBadSignature: the signature does not verify with the issuer's key.
	ErrBadSignature = &Error{Reason: "bad_signature", Description: "the access token signature is invalid"}
	// ErrUnknownKID: the issuer's key set has no key for the token's kid.
	ErrUnknownKID = &Error{Reason: "unknown_kid", Description: "the access token was signed with an unknown key"}
	// ErrAlgorithm: the signing algorithm is not allowed or does not fit the key.
	ErrAlgorithm = &Error{Reason: "bad_algorithm", Description: "the access token signing algorithm is not accepted"}
	// ErrExpired: exp has passed.
	ErrExpired = &Error{Reason: "expired", Description: "the access token expired"}
	// ErrNotYetValid: nbf or iat lies in the future.
	ErrNotYetValid = &Error{Reason: "not_yet_valid", Description: "the access token is not valid yet"}
	// ErrWrongIssuer: iss names no trusted issuer.
	ErrWrongIssuer = &Error{Reason: "wrong_issuer", Description: "the access token issuer is not trusted"}
	// ErrWrongAudience: aud holds none of the issuer's accepted audiences.
	ErrWrongAudience = &Error{Reason: "wrong_audience", Description: "the access token is not meant for this audience"}
	// ErrWrongType: the typ header is not accepted by the issuer's type policy.
	ErrWrongType = &Error{Reason: "wrong_type", Description: "the token type is not accepted"}
	// ErrCrit: the token carries a crit header, and no critical extension is supported.
	ErrCrit = &Error{Reason: "unsupported_crit", Description: "the access token uses an unsupported critical extension"}
	// ErrKeysUnavailable: the issuer's keys could not be obtained (never fetched, or lookup failed).
	ErrKeysUnavailable = &Error{Reason: "keys_unavailable", Description: "the issuer's signing keys are unavailable"}
	// ErrRevoked: the token verified but was revoked (its jti, its client, or a disabled client).
	// Verify never returns it; the decision service does, after consulting revocations.
	ErrRevoked = &Error{Reason: "revoked", Description: "the access token has been revoked"}

	// ErrConfig reports an invalid Issuer or Options given to NewVerifier.
	ErrConfig = errors.New("token: invalid verifier configuration")
)
