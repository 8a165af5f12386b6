package authz

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
)

// Identity headers set on allowed requests (DESIGN.md, fixed interfaces).
const (
	HeaderClientID = "x-torchgate-client-id"
	HeaderSubject  = "x-torchgate-subject"
	HeaderScopes   = "x-torchgate-scopes"
	HeaderTier     = "x-torchgate-tier"
	HeaderPriority = "x-torchgate-priority"
)

// MetadataNamespace is the key under which Envoy finds this service's dynamic metadata
// (%DYNAMIC_METADATA(envoy.filters.http.ext_authz:client_id)% in access logs).
const MetadataNamespace = "envoy.filters.http.ext_authz"

// Field numbers of what appendResponse writes (envoy.service.auth.v3.CheckResponse and the
// messages under it, google.rpc.Status, envoy.type.v3.HttpStatus, google.protobuf.Struct).
const (
	fieldResponseStatus     protowire.Number = 1 // CheckResponse.status
	fieldResponseDenied     protowire.Number = 2 // CheckResponse.denied_response
	fieldResponseOK         protowire.Number = 3 // CheckResponse.ok_response
	fieldResponseMetadata   protowire.Number = 4 // CheckResponse.dynamic_metadata
	fieldStatusCode         protowire.Number = 1 // google.rpc.Status.code
	fieldStatusMessage      protowire.Number = 2 // google.rpc.Status.message
	fieldDeniedStatus       protowire.Number = 1 // DeniedHttpResponse.status
	fieldDeniedHeaders      protowire.Number = 2 // DeniedHttpResponse.headers
	fieldDeniedBody         protowire.Number = 3 // DeniedHttpResponse.body
	fieldHTTPStatusCode     protowire.Number = 1 // envoy.type.v3.HttpStatus.code
	fieldOKHeaders          protowire.Number = 2 // OkHttpResponse.headers
	fieldOKHeadersToRemove  protowire.Number = 5 // OkHttpResponse.headers_to_remove
	fieldOKResponseHeaders  protowire.Number = 6 // OkHttpResponse.response_headers_to_add
	fieldOptionHeader       protowire.Number = 1 // HeaderValueOption.header
	fieldOptionAppendAction protowire.Number = 3 // HeaderValueOption.append_action
	fieldStructFields       protowire.Number = 1 // Struct.fields (map<string, Value>)
	fieldValueString        protowire.Number = 3 // Value.string_value
)

// appendResponse appends the decision rendered as Envoy's CheckResponse, in protobuf wire
// format. Building the wire bytes directly, rather than a message for the protobuf runtime to
// marshal, is a large share of what keeps a Check in microseconds.
func appendResponse(b []byte, d *Decision, r *request, keepAuthorization bool) []byte {
	if d.Allowed {
		return appendAllowed(b, d, r, keepAuthorization)
	}
	return appendDenied(b, d)
}

// appendAllowed writes status OK, the OkHttpResponse and the dynamic metadata. Identity headers
// with a value overwrite whatever the client sent; every other client-sent x-torchgate-* header,
// and one we would set empty, is removed.
func appendAllowed(b []byte, d *Decision, r *request, keepAuthorization bool) []byte {
	c := d.Claims
	b = appendMessage(b, fieldResponseStatus, func(b []byte) []byte { return b }) // code OK (0)
	var buf [5]identityHeader
	set := identityHeaders(buf[:0], d)
	b = appendMessage(b, fieldResponseOK, func(b []byte) []byte {
		for _, h := range set {
			if h.value != "" {
				b = appendHeaderOption(b, fieldOKHeaders, h.name, h.value)
			}
		}
		if !keepAuthorization {
			b = appendString(b, fieldOKHeadersToRemove, "authorization")
		}
		for _, name := range r.identityHeaders {
			if !setsHeader(set, name) {
				b = appendString(b, fieldOKHeadersToRemove, name)
			}
		}
		return appendRateLimitHeaders(b, fieldOKResponseHeaders, d.Limit)
	})
	return appendMessage(b, fieldResponseMetadata, func(b []byte) []byte {
		b = appendStructString(b, "client_id", c.ClientID)
		b = appendStructString(b, "subject", c.Subject)
		b = appendStructString(b, "issuer", c.Issuer)
		if d.Need.Model != "" {
			b = appendStructString(b, "model", d.Need.Model)
		}
		if c.JTI != "" {
			var h [16]byte
			b = appendStructString(b, "jti_hash", string(jtiHash(h[:0], c.JTI)))
		}
		return b
	})
}

// identityHeader is one header set for the upstream.
type identityHeader struct{ name, value string }

// identityHeaders appends the identity headers of an allowed decision to set.
func identityHeaders(set []identityHeader, d *Decision) []identityHeader {
	c := d.Claims
	set = append(set,
		identityHeader{HeaderClientID, c.ClientID},
		identityHeader{HeaderSubject, c.Subject},
		identityHeader{HeaderScopes, c.ScopeText})
	if d.Tier != nil {
		set = append(set, identityHeader{HeaderTier, d.Tier.Name}, identityHeader{HeaderPriority, strconv.Itoa(d.Tier.Priority)})
	}
	return set
}

// setsHeader reports whether name is set with a value (a lower-case client header name).
func setsHeader(set []identityHeader, name string) bool {
	for _, h := range set {
		if h.name == name && h.value != "" {
			return true
		}
	}
	return false
}

// appendDenied writes the gRPC status and the DeniedHttpResponse.
func appendDenied(b []byte, d *Decision) []byte {
	b = appendMessage(b, fieldResponseStatus, func(b []byte) []byte {
		b = appendVarint(b, fieldStatusCode, uint64(grpcCode(d.Status)))
		return appendString(b, fieldStatusMessage, d.Reason)
	})
	return appendMessage(b, fieldResponseDenied, func(b []byte) []byte {
		b = appendMessage(b, fieldDeniedStatus, func(b []byte) []byte {
			return appendVarint(b, fieldHTTPStatusCode, uint64(d.Status))
		})
		b = appendHeaderOption(b, fieldDeniedHeaders, "content-type", "application/json")
		b = appendHeaderOption(b, fieldDeniedHeaders, "cache-control", "no-store")
		if ch := d.wwwAuthenticate(); ch != "" {
			b = appendHeaderOption(b, fieldDeniedHeaders, "www-authenticate", ch)
		}
		if d.RetryAfter > 0 {
			b = appendHeaderOption(b, fieldDeniedHeaders, "retry-after", retryAfterSeconds(d.RetryAfter))
		}
		b = appendRateLimitHeaders(b, fieldDeniedHeaders, d.Limit)
		return appendString(b, fieldDeniedBody, errorBody(d))
	})
}

// errorBody is the small JSON body every denial carries. It never holds the token or anything
// internal: only the public error code and a description meant for client developers.
func errorBody(d *Decision) string {
	code := d.Error
	if code == "" {
		code = "unauthorized"
	}
	desc := d.Description
	if desc == "" {
		desc = http.StatusText(d.Status)
	}
	b, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	return string(b)
}

func grpcCode(status int) codes.Code {
	switch status {
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	default:
		return codes.Internal
	}
}

// appendRateLimitHeaders writes the IETF RateLimit-Policy and RateLimit fields of a limiter
// result as header options in field num.
func appendRateLimitHeaders(b []byte, num protowire.Number, res *ratelimit.Result) []byte {
	if res == nil || len(res.Policies) == 0 {
		return b
	}
	pol, state := res.Headers()
	b = appendHeaderOption(b, num, "ratelimit-policy", pol)
	return appendHeaderOption(b, num, "ratelimit", state)
}

// appendHeaderOption writes a HeaderValueOption that overwrites (or adds) the header.
func appendHeaderOption(b []byte, num protowire.Number, key, value string) []byte {
	return appendMessage(b, num, func(b []byte) []byte {
		b = appendMessage(b, fieldOptionHeader, func(b []byte) []byte {
			b = appendString(b, fieldHeaderKey, key)
			return appendString(b, fieldHeaderValue, value)
		})
		return appendVarint(b, fieldOptionAppendAction, uint64(corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD))
	})
}

// appendStructString writes one Struct.fields entry with a string value.
func appendStructString(b []byte, key, value string) []byte {
	return appendMessage(b, fieldStructFields, func(b []byte) []byte {
		b = appendString(b, fieldMapEntryKey, key)
		return appendMessage(b, fieldMapEntryValue, func(b []byte) []byte {
			b = protowire.AppendTag(b, fieldValueString, protowire.BytesType)
			return protowire.AppendString(b, value) // written even when empty: the oneof is set
		})
	})
}

// appendMessage writes field num holding the message that body appends. The length is written
// in front of the body once known: one byte is reserved, and the body moved when the length
// needs more.
func appendMessage(b []byte, num protowire.Number, body func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	at := len(b)
	b = body(append(b, 0))
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	size := protowire.SizeVarint(uint64(n))
	b = append(b, make([]byte, size-1)...)
	copy(b[at+size:], b[at+1:at+1+n])
	protowire.AppendVarint(b[:at], uint64(n))
	return b
}

// appendString writes a proto3 string field; the empty string is the default and not written.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendVarint writes a proto3 integer or enum field; zero is the default and not written.
func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// jtiHash identifies a token in access logs without revealing its id: the hex of the first 8
// bytes of its SHA-256, appended to dst.
func jtiHash(dst []byte, jti string) []byte {
	sum := sha256.Sum256([]byte(jti))
	return hex.AppendEncode(dst, sum[:8])
}
