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
	switch classify(tok) {
	case notToken68:
		return "", ErrMalformed.with("the bearer token has invalid characters")
	case notJWS:
		return "", ErrMalformed.with("the bearer token is not a JWT")
	}
	return Raw(tok), nil
}

// Shapes of a bearer token, from classify.
const (
	shapeJWS   = iota // three non-empty base64url parts separated by two dots (RFC 7515 §7.1)
	notJWS            // a b64token of RFC 6750 §2.1, but not a compact JWS
	notToken68        // not even a b64token
)

// Byte classes of tokenClass.
const (
	classOther   = iota // not allowed in a b64token
	classB64URL         // base64url alphabet (RFC 4648 §5)
	classDot            // the JWS part separator
	classToken68        // "~", "+", "/": b64token only
	classPadding        // "=": b64token only, and only at the end
)

// tokenClass maps every byte to its class, so a token is checked in one pass over a table
// instead of a chain of comparisons per byte (this runs on every Check).
var tokenClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			t[c] = classB64URL
		case c == '.':
			t[c] = classDot
		case c == '~', c == '+', c == '/':
			t[c] = classToken68
		case c == '=':
			t[c] = classPadding
		}
	}
	return t
}()

// classify reports whether b is a compact JWS (RFC 7515 §2: base64url parts, no padding), else
// whether it is at least a b64token (RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
// "+" / "/" ) *"="). The loop is shaped for the common case, a base64url byte.
func classify(b []byte) int {
	if len(b) == 0 || b[0] == '=' {
		return notToken68 // empty, or nothing but padding
	}
	shape := shapeJWS
	dots, partStart := 0, 0
	for i, c := range b {
		switch tokenClass[c] {
		case classB64URL:
		case classDot:
			if i == partStart {
				shape = notJWS // an empty part
			}
			dots++
			partStart = i + 1
		case classToken68:
			shape = notJWS
		case classPadding:
			for _, c := range b[i+1:] {
				if c != '=' {
					return notToken68 // padding only at the end
				}
			}
			return notJWS
		default:
			return notToken68
		}
	}
	if dots != 2 || partStart == len(b) {
		return notJWS
	}
	return shape
}
