package authz

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// IdentityHeaderPrefix is the prefix of every header extauthz sets for the upstream. A client
// may never send one through: each is overwritten or removed.
const IdentityHeaderPrefix = "x-torchgate-"

// request is what the decision reads from a CheckRequest. Header names are lower case, as
// Envoy sends them.
type request struct {
	method, path, host string
	requestID          string
	source             string
	authorization      [][]byte // one entry per Authorization header received
	identityHeaders    []string // client-sent x-torchgate-* header names
	context            map[string]string
}

// readRequest extracts the request attributes. Envoy delivers headers either in the
// `headers` map (duplicates joined by ",") or, with encode_raw_headers, in `header_map` (raw
// bytes, one entry per header). Both are handled identically.
func readRequest(cr *authv3.CheckRequest) request {
	attrs := cr.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	r := request{
		method:  h.GetMethod(),
		path:    stripQuery(h.GetPath()),
		host:    h.GetHost(),
		source:  socketAddress(attrs.GetSource().GetAddress()),
		context: attrs.GetContextExtensions(),
	}
	if hm := h.GetHeaderMap(); hm != nil && len(hm.GetHeaders()) > 0 {
		for _, hv := range hm.GetHeaders() {
			v := hv.GetRawValue()
			if v == nil {
				v = []byte(hv.GetValue())
			}
			r.addHeader(strings.ToLower(hv.GetKey()), v)
		}
		return r
	}
	for k, v := range h.GetHeaders() {
		k = strings.ToLower(k)
		if k == "authorization" {
			// The map form joins repeated headers with ","; a token68 never holds a comma,
			// so splitting recovers the separate headers and lets "more than one" be seen.
			for part := range strings.SplitSeq(v, ",") {
				r.authorization = append(r.authorization, []byte(part))
			}
			continue
		}
		r.addHeader(k, []byte(v))
	}
	return r
}

func (r *request) addHeader(name string, value []byte) {
	switch {
	case name == "authorization":
		r.authorization = append(r.authorization, value)
	case name == "x-request-id":
		r.requestID = string(value)
	case strings.HasPrefix(name, IdentityHeaderPrefix):
		r.identityHeaders = append(r.identityHeaders, name)
	}
}

func stripQuery(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

func socketAddress(a *corev3.Address) string {
	sa := a.GetSocketAddress()
	if sa == nil {
		return ""
	}
	return sa.GetAddress()
}
