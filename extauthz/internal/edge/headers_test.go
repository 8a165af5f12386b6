package edge

import (
	"net/http"
	"os"
	"reflect"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyHeader(t *testing.T) {
	opt := func(key, value string, a corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: key, Value: value}, AppendAction: a}
	}
	legacy := func(key, value string, appendValue bool) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: key, Value: value}, Append: wrapperspb.Bool(appendValue)}
	}
	cases := []struct {
		name string
		opt  *corev3.HeaderValueOption
		want []string // values of X-A afterwards (X-A starts as ["old"])
	}{
		{name: "append if exists or add appends", opt: opt("x-a", "new", corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD), want: []string{"old", "new"}},
		{name: "add if absent keeps a present header", opt: opt("x-a", "new", corev3.HeaderValueOption_ADD_IF_ABSENT), want: []string{"old"}},
		{name: "overwrite if exists or add replaces", opt: opt("X-A", "new", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD), want: []string{"new"}},
		{name: "overwrite if exists replaces", opt: opt("x-a", "new", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS), want: []string{"new"}},
		{name: "legacy append true appends", opt: legacy("x-a", "new", true), want: []string{"old", "new"}},
		{name: "legacy append false replaces", opt: legacy("x-a", "new", false), want: []string{"new"}},
		{name: "values with line breaks are dropped", opt: opt("x-a", "a\r\nx-b: c", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD), want: []string{"old"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"X-A": {"old"}}
			applyHeader(h, tc.opt)
			if got := h.Values("X-A"); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("X-A = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("absent headers", func(t *testing.T) {
		h := http.Header{}
		applyHeader(h, opt("x-b", "1", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS))
		applyHeader(h, opt("x-c", "1", corev3.HeaderValueOption_ADD_IF_ABSENT))
		applyHeader(h, legacy("x-d", "1", true))
		applyHeader(h, opt("host", "evil", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD))
		applyHeader(h, opt(":path", "/evil", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD))
		if want := (http.Header{"X-C": {"1"}}); !reflect.DeepEqual(h, want) {
			t.Fatalf("headers %v, want %v", h, want)
		}
	})
}
