package edge

import (
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	"golang.org/x/net/http/httpguts"
)

// applyHeader applies one HeaderValueOption to h with Envoy's semantics:
//
//   - append_action APPEND_IF_EXISTS_OR_ADD (the default) adds a value, ADD_IF_ABSENT sets
//     only a missing header, OVERWRITE_IF_EXISTS_OR_ADD replaces or adds, OVERWRITE_IF_EXISTS
//     replaces only a present header;
//   - when the deprecated `append` is set it wins, as in Envoy's ext_authz: true appends to a
//     present header only, false replaces or adds.
//
// Pseudo-headers, Host and invalid names or values are never touched (Envoy refuses them too).
func applyHeader(h http.Header, o *corev3.HeaderValueOption) {
	key, value := o.GetHeader().GetKey(), o.GetHeader().GetValue()
	if raw := o.GetHeader().GetRawValue(); len(raw) > 0 {
		value = string(raw)
	}
	if !mutable(key) || !httpguts.ValidHeaderFieldValue(value) {
		return
	}
	ck := http.CanonicalHeaderKey(key)
	_, present := h[ck]
	//lint:ignore SA1019 Envoy still honours the deprecated field when an ext_authz service sets it.
	if a := o.GetAppend(); a != nil {
		if !a.GetValue() {
			h.Set(ck, value)
		} else if present {
			h.Add(ck, value)
		}
		return
	}
	switch o.GetAppendAction() {
	case corev3.HeaderValueOption_ADD_IF_ABSENT:
		if !present {
			h.Set(ck, value)
		}
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
		h.Set(ck, value)
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
		if present {
			h.Set(ck, value)
		}
	default: // APPEND_IF_EXISTS_OR_ADD
		h.Add(ck, value)
	}
}

// applyHeaders applies options in order.
func applyHeaders(h http.Header, opts []*corev3.HeaderValueOption) {
	for _, o := range opts {
		applyHeader(h, o)
	}
}

// removeHeader deletes a header unless it is a pseudo-header or Host.
func removeHeader(h http.Header, key string) {
	if mutable(key) {
		h.Del(key)
	}
}

func mutable(key string) bool {
	return httpguts.ValidHeaderFieldName(key) && !strings.EqualFold(key, "host")
}

// headerRemoval is the header_mutation filter: it removes the configured request headers.
type headerRemoval struct{ names []string }

func newHeaderRemoval(cfg *headermutationv3.HeaderMutation) *headerRemoval {
	f := &headerRemoval{}
	for _, m := range cfg.GetMutations().GetRequestMutations() {
		f.names = append(f.names, m.GetRemove())
	}
	return f
}

func (f *headerRemoval) decode(x *exchange) bool {
	for _, n := range f.names {
		removeHeader(x.r.Header, n)
	}
	return true
}
