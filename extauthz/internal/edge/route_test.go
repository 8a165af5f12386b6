package edge

import (
	"errors"
	"strings"
	"testing"
)

var pathCases = []struct {
	name, in, want string
	wantErr        error
}{
	{name: "plain path unchanged", in: "/v2/models/mlp/infer", want: "/v2/models/mlp/infer"},
	{name: "dot dot removed", in: "/v2/models/cnn/../mlp/infer", want: "/v2/models/mlp/infer"},
	{name: "encoded dot dot removed", in: "/v2/models/mlp/%2e%2E/cnn", want: "/v2/models/cnn"},
	{name: "dot segments at the end keep the slash", in: "/a/b/..", want: "/a/"},
	{name: "dot dot above the root stays at the root", in: "/../../x", want: "/x"},
	{name: "single dots removed", in: "/./a/./b/.", want: "/a/b/"},
	{name: "slashes merged", in: "//v2///models//", want: "/v2/models/"},
	{name: "unreserved escapes decoded", in: "/%7Euser/%41", want: "/~user/A"},
	{name: "reserved escapes upper-cased", in: "/a%3fb", want: "/a%3Fb"},
	{name: "encoded slash refused", in: "/v2/models/mlp%2finfer", wantErr: errBadPath},
	{name: "encoded backslash refused", in: "/a%5Cb", wantErr: errBadPath},
	{name: "truncated escape refused", in: "/a%4", wantErr: errBadPath},
	{name: "bad hex refused", in: "/a%zz", wantErr: errBadPath},
	{name: "relative path refused", in: "v2/models", wantErr: errBadPath},
}

func TestCanonicalPath(t *testing.T) {
	for _, tc := range pathCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := canonicalPath(tc.in, true, true, true)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("canonicalPath(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRouteMatching(t *testing.T) {
	e, err := build(mustRead(t, projectEnvoy))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, host, path, want string }{
		{name: "model infer by prefix", host: "edge:8080", path: "/v2/models/mlp/infer", want: "model_mlp"},
		{name: "model metadata by exact path", host: "x", path: "/v2/models/resnet18", want: "model_resnet18_metadata"},
		{name: "exact path ignores the query", host: "x", path: "/v2/models/cnn?v=1", want: "model_cnn_metadata"},
		{name: "a longer model name is not a prefix match", host: "x", path: "/v2/models/mlpx/infer", want: "not_found"},
		{name: "gRPC ModelInfer before the service prefix", host: "x", path: "/inference.GRPCInferenceService/ModelInfer", want: "grpc_model_infer"},
		{name: "gRPC other methods", host: "x", path: "/inference.GRPCInferenceService/ServerLive", want: "grpc_inference"},
		{name: "health is exact", host: "x", path: "/v2/health/live", want: "health_live"},
		{name: "health below is not found", host: "x", path: "/v2/health/live/x", want: "not_found"},
		{name: "issuer", host: "x", path: "/oauth2/token", want: "oauth2"},
		{name: "prefix match is case sensitive", host: "x", path: "/V2/models/mlp/infer", want: "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := selectVhost(e.vhosts, tc.host)
			if got := v.match(tc.path).getName(); got != tc.want {
				t.Fatalf("route %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSelectVhost(t *testing.T) {
	vhosts := []*vhost{
		{name: "any", domains: []string{"*"}},
		{name: "suffix", domains: []string{"*.example.com"}},
		{name: "prefix", domains: []string{"api.*"}},
		{name: "exact", domains: []string{"API.example.com"}},
	}
	cases := []struct{ name, host, want string }{
		{name: "exact wins, case-insensitively", host: "api.example.com", want: "exact"},
		{name: "suffix wildcard before prefix wildcard", host: "ml.example.com", want: "suffix"},
		{name: "prefix wildcard", host: "api.local", want: "prefix"},
		{name: "catch-all", host: "other", want: "any"},
		{name: "the wildcard must match something", host: ".example.com", want: "any"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := selectVhost(vhosts, tc.host); got == nil || got.name != tc.want {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
}

// FuzzRequestPath feeds arbitrary request targets through path handling and route matching of
// the project's envoy.yaml: no panic, and every accepted path is canonical (idempotent, no dot
// segments, no empty segments) and matched by some route (the catch-all at least).
func FuzzRequestPath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add(tc.in)
	}
	e, err := build(mustRead(f, projectEnvoy))
	if err != nil {
		f.Fatal(err)
	}
	v := selectVhost(e.vhosts, "edge")
	f.Fuzz(func(t *testing.T, target string) {
		p, q, hasQuery := strings.Cut(target, "?")
		got, err := canonicalPath(p, true, true, true)
		if err != nil {
			return
		}
		if again, err := canonicalPath(got, true, true, true); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", p, got, again, err)
		}
		if !strings.HasPrefix(got, "/") || strings.Contains(got, "//") {
			t.Fatalf("%q -> %q", p, got)
		}
		for seg := range strings.SplitSeq(got, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q -> %q keeps a dot segment", p, got)
			}
		}
		if _, err := unescapePath(got); err != nil {
			t.Fatalf("%q -> %q does not unescape: %v", p, got, err)
		}
		if hasQuery {
			got += "?" + q
		}
		if v.match(got) == nil {
			t.Fatalf("%q matched no route", got)
		}
	})
}
