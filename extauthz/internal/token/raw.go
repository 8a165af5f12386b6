package token

import (
	"bytes"
	"fmt"
	"log/slog"
)

// redacted is what a Raw prints as.
const redacted = "REDACTED"

// Raw is a bearer token as received. It never prints itself: String, GoString, Format,
// LogValue and the text and JSON marshallers all yield "REDACTED". Convert explicitly
// (string(raw)) only where the token bytes are needed.
type Raw string

// LogValue implements slog.LogValuer.
func (Raw) LogValue() slog.Value { return slog.StringValue(redacted) }

// String implements fmt.Stringer.
func (Raw) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (Raw) GoString() string { return redacted }

// Format implements fmt.Formatter, so every verb (%s, %v, %q, %x, ...) prints "REDACTED".
func (Raw) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText implements encoding.TextMarshaler.
func (Raw) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON implements json.Marshaler.
func (Raw) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// DefaultMaxHeaderBytes is the default cap (8 KiB) on the Authorization header value.
const DefaultMaxHeaderBytes = 8 << 10

// ParseAuthorization takes every value of the Authorization header the request carried (zero or
// more, raw bytes, possibly not UTF-8) and returns the bearer token (RFC 6750 §2.1):
//
//	credentials = "Bearer" 1*SP b64token
//	b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// The scheme is matched case-insensitively (RFC 9110 §11.1); whitespace around the value is
// ignored. The token must be a compact JWS: three non-empty base64url parts separated by dots.
// maxBytes caps the header value; zero or less means DefaultMaxHeaderBytes.
//
// Errors: ErrMissing when there is no header or it is empty, ErrTooLarge when the value exceeds
// maxBytes, ErrMalformed for anything else (another scheme, a bad character, not three parts,
// more than one Authorization header).
func ParseAuthorization(values [][]byte, maxBytes int) (Raw, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxHeaderBytes
	}
	switch len(values) {
	case 0:
		return "", ErrMissing
	case 1:
	default:
		// RFC 6750 §3.1: a request with more than one method of credentials is invalid_request.
		return "", ErrMalformed.with("more than one authorization header")
	}
	v := values[0]
	if len(v) > maxBytes {
		return "", ErrTooLarge
	}
	v = bytes.Trim(v, " \t")
	if len(v) == 0 {
		return "", ErrMissing
	}
	const scheme = "Bearer"
	if len(v) <= len(scheme) || !bytes.EqualFold(v[:len(scheme)], []byte(scheme)) || v[len(scheme)] != ' ' {
		return "", ErrMalformed.with("the authorization scheme is not Bearer")
	}
	tok := bytes.TrimLeft(v[len(scheme):], " ")
	if !isToken68(tok) {
		return "", ErrMalformed.with("the bearer token has invalid characters")
	}
	if !isCompactJWS(tok) {
		return "", ErrMalformed.with("the bearer token is not a JWT")
	}
	return Raw(tok), nil
}

// isToken68 reports whether b matches b64token of RFC 6750 §2.1.
func isToken68(b []byte) bool {
	end := len(bytes.TrimRight(b, "="))
	if end == 0 {
		return false
	}
	for _, c := range b[:end] {
		if !isB64URL(c) && c != '.' && c != '~' && c != '+' && c != '/' {
			return false
		}
	}
	return true
}

// isCompactJWS reports whether b has the JWS compact shape (RFC 7515 §7.1): three non-empty
// base64url parts (RFC 7515 §2: no padding) separated by two dots.
func isCompactJWS(b []byte) bool {
	parts, dots := 0, 0
	for _, c := range b {
		switch {
		case c == '.':
			if parts == 0 {
				return false
			}
			dots++
			parts = 0
		case isB64URL(c):
			parts++
		default:
			return false
		}
	}
	return dots == 2 && parts > 0
}

// isB64URL reports whether c is in the base64url alphabet (RFC 4648 §5).
func isB64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
