package authz

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/torchgate/torchgate/extauthz/internal/policy"
)

// IdentityHeaderPrefix is the prefix of every header extauthz sets for the upstream. A client
// may never send one through: each is overwritten or removed.
const IdentityHeaderPrefix = "x-torchgate-"

// errBadRequest is returned for a CheckRequest that is not valid protobuf wire data, or whose
// string fields read here are not UTF-8 (proto3 requires it).
var errBadRequest = errors.New("authz: malformed CheckRequest")

// request is what the decision reads from a CheckRequest. Header names are matched without
// regard to ASCII case, as HTTP defines them.
type request struct {
	method, path    string
	requestID       string
	source          string
	authorization   [][]byte // one entry per Authorization header received
	identityHeaders []string // client-sent x-torchgate-* header names, in lower case
	context         policy.Context
}

// Field numbers of what parseCheckRequest reads (envoy.service.auth.v3.CheckRequest and the
// messages under it, envoy.config.core.v3 addresses and headers, protobuf map entries).
const (
	fieldCheckAttributes  protowire.Number = 1  // CheckRequest.attributes
	fieldAttrSource       protowire.Number = 1  // AttributeContext.source
	fieldAttrRequest      protowire.Number = 4  // AttributeContext.request
	fieldAttrContext      protowire.Number = 10 // AttributeContext.context_extensions
	fieldPeerAddress      protowire.Number = 1  // AttributeContext.Peer.address
	fieldAddressSocket    protowire.Number = 1  // Address.socket_address (oneof address)
	fieldAddressPipe      protowire.Number = 2  // Address.pipe (oneof address)
	fieldAddressInternal  protowire.Number = 3  // Address.envoy_internal_address (oneof address)
	fieldSocketAddress    protowire.Number = 2  // SocketAddress.address
	fieldRequestHTTP      protowire.Number = 2  // AttributeContext.Request.http
	fieldHTTPMethod       protowire.Number = 2  // HttpRequest.method
	fieldHTTPHeaders      protowire.Number = 3  // HttpRequest.headers (map)
	fieldHTTPPath         protowire.Number = 4  // HttpRequest.path
	fieldHTTPHeaderMap    protowire.Number = 13 // HttpRequest.header_map
	fieldHeaderMapHeaders protowire.Number = 1  // HeaderMap.headers
	fieldHeaderKey        protowire.Number = 1  // HeaderValue.key
	fieldHeaderValue      protowire.Number = 2  // HeaderValue.value
	fieldHeaderRawValue   protowire.Number = 3  // HeaderValue.raw_value
	fieldMapEntryKey      protowire.Number = 1  // a map entry's key
	fieldMapEntryValue    protowire.Number = 2  // a map entry's value
)

// maxRelevantHeaders bounds the headers a decision reads (Authorization, x-request-id,
// x-torchgate-*) per source; a request with more is refused rather than held.
const maxRelevantHeaders = 64

// parseCheckRequest reads what a decision needs from a CheckRequest in protobuf wire format,
// straight from the bytes gRPC received, without building the message.
//
// It follows protobuf's parsing rules for what it reads: fields in any order; the last value of
// a repeated singular field wins; a message field that occurs twice is merged; a later map entry
// replaces an earlier one with the same key; a oneof keeps its last case; unknown fields and
// fields of an unexpected wire type are skipped. The string fields it reads must be UTF-8;
// fields it does not read are not validated.
//
// Envoy delivers headers either in `headers` (a map; repeated headers joined by ",") or, with
// encode_raw_headers, in `header_map` (raw bytes, one entry per header). Both are handled
// identically; when header_map has entries, it is used. Nothing of b is retained: b may be
// reused once parseCheckRequest returns.
func parseCheckRequest(b []byte, r *request) error {
	p := parser{r: r}
	p.mapHeaders, p.rawHeaders = p.inline[0][:0], p.inline[1][:0]
	err := p.message(b, func(num protowire.Number, v []byte) error {
		if num == fieldCheckAttributes {
			return p.attributes(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.finish()
	return nil
}

// header is one header that matters to a decision, as views into the message being parsed.
type header struct{ name, value []byte }

// parser holds what parseCheckRequest has seen so far.
type parser struct {
	r            *request
	method, path []byte
	source       []byte
	mapHeaders   []header     // the relevant entries of HttpRequest.headers, in wire order
	rawHeaders   []header     // the relevant entries of HttpRequest.header_map
	rawCount     int          // header_map entries of any name
	inline       [2][4]header // first backing arrays of mapHeaders and rawHeaders
}

// message calls f for every length-delimited field of the message in b, in wire order; fields of
// other wire types are skipped (every field read here is length-delimited).
func (p *parser) message(b []byte, f func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadRequest
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errBadRequest
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errBadRequest
		}
		b = b[n:]
		if err := f(num, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) attributes(b []byte) error {
	return p.message(b, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldAttrSource:
			return p.message(v, func(num protowire.Number, v []byte) error {
				if num == fieldPeerAddress {
					return p.address(v)
				}
				return nil
			})
		case fieldAttrRequest:
			return p.message(v, func(num protowire.Number, v []byte) error {
				if num == fieldRequestHTTP {
					return p.http(v)
				}
				return nil
			})
		case fieldAttrContext:
			return p.contextEntry(v)
		}
		return nil
	})
}

// address reads the source Address; only a socket address names a source.
func (p *parser) address(b []byte) error {
	return p.message(b, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldAddressSocket:
			return p.message(v, func(num protowire.Number, v []byte) error {
				if num == fieldSocketAddress {
					return p.text(&p.source, v)
				}
				return nil
			})
		case fieldAddressPipe, fieldAddressInternal:
			p.source = nil // the oneof switched away from socket_address
		}
		return nil
	})
}

func (p *parser) http(b []byte) error {
	return p.message(b, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldHTTPMethod:
			return p.text(&p.method, v)
		case fieldHTTPPath:
			return p.text(&p.path, v)
		case fieldHTTPHeaders:
			key, value, err := p.mapEntry(v)
			if err != nil {
				return err
			}
			return p.keep(&p.mapHeaders, header{key, value})
		case fieldHTTPHeaderMap:
			return p.message(v, func(num protowire.Number, v []byte) error {
				if num != fieldHeaderMapHeaders {
					return nil
				}
				p.rawCount++
				h, err := p.headerValue(v)
				if err != nil {
					return err
				}
				return p.keep(&p.rawHeaders, h)
			})
		}
		return nil
	})
}

// headerValue reads one HeaderValue: raw_value when set, else value. As protobuf would, an empty
// raw_value counts as set only after a non-empty one in the same message.
func (p *parser) headerValue(b []byte) (header, error) {
	var h header
	var value, raw []byte
	rawSet := false
	err := p.message(b, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldHeaderKey:
			return p.text(&h.name, v)
		case fieldHeaderValue:
			return p.text(&value, v)
		case fieldHeaderRawValue:
			raw, rawSet = v, rawSet || len(v) > 0
		}
		return nil
	})
	h.value = value
	if rawSet {
		h.value = raw
	}
	return h, err
}

// mapEntry reads a map<string, string> entry.
func (p *parser) mapEntry(b []byte) (key, value []byte, err error) {
	err = p.message(b, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldMapEntryKey:
			return p.text(&key, v)
		case fieldMapEntryValue:
			return p.text(&value, v)
		}
		return nil
	})
	return key, value, err
}

func (p *parser) contextEntry(b []byte) error {
	key, value, err := p.mapEntry(b)
	if err != nil {
		return err
	}
	p.r.context.Set(key, value)
	return nil
}

// text stores a proto3 string field after checking it is UTF-8.
func (p *parser) text(dst *[]byte, v []byte) error {
	if !utf8.Valid(v) {
		return errBadRequest
	}
	*dst = v
	return nil
}

// keep records h when a decision reads it: Authorization, x-request-id, and every identity
// header. A request with very many of them is refused rather than held.
func (p *parser) keep(hs *[]header, h header) error {
	if !relevant(h.name) {
		return nil
	}
	if len(*hs) >= maxRelevantHeaders {
		return errBadRequest
	}
	*hs = append(*hs, h)
	return nil
}

func relevant(name []byte) bool {
	return equalFoldASCII(name, "authorization") || equalFoldASCII(name, "x-request-id") ||
		len(name) >= len(IdentityHeaderPrefix) && equalFoldASCII(name[:len(IdentityHeaderPrefix)], IdentityHeaderPrefix)
}

// finish copies what the decision reads out of the message into the request.
func (p *parser) finish() {
	r := p.r
	r.method = methodName(p.method)
	r.path = string(stripQuery(p.path))
	r.source = string(p.source)
	if p.rawCount > 0 {
		for _, h := range p.rawHeaders {
			r.addHeader(h.name, h.value)
		}
		return
	}
	for i, h := range p.mapHeaders {
		if laterKey(p.mapHeaders[i+1:], h.name) {
			continue // a later map entry with the same key replaced this one
		}
		if equalFoldASCII(h.name, "authorization") {
			// The map form joins repeated headers with ","; a token68 never holds a comma,
			// so splitting recovers the separate headers and lets "more than one" be seen.
			for part := range bytes.SplitSeq(bytes.Clone(h.value), []byte(",")) {
				r.authorization = append(r.authorization, part)
			}
			continue
		}
		r.addHeader(h.name, h.value)
	}
}

// laterKey reports whether a header in hs has exactly the name key (map keys are exact).
func laterKey(hs []header, key []byte) bool {
	for _, h := range hs {
		if bytes.Equal(h.name, key) {
			return true
		}
	}
	return false
}

// addHeader applies one relevant header, copying what it keeps.
func (r *request) addHeader(name, value []byte) {
	switch {
	case equalFoldASCII(name, "authorization"):
		r.authorization = append(r.authorization, bytes.Clone(value))
	case equalFoldASCII(name, "x-request-id"):
		r.requestID = string(value)
	default:
		r.identityHeaders = append(r.identityHeaders, lowerASCII(name))
	}
}

// methodName returns the method as a string, without allocating for the standard methods.
func methodName(m []byte) string {
	for _, known := range [...]string{"POST", "GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"} {
		if string(m) == known {
			return known
		}
	}
	return string(m)
}

func stripQuery(p []byte) []byte {
	if i := bytes.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// equalFoldASCII reports whether b equals the lower-case ASCII s, ignoring ASCII case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// lowerASCII returns b in lower case as Envoy matches header names: ASCII letters only.
func lowerASCII(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}
