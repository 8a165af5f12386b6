package edge

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestStartupRefusals edits the project's envoy.yaml one feature at a time: each edit must be
// refused when the edge is built, with the right error and the offending field named.
func TestStartupRefusals(t *testing.T) {
	base, err := os.ReadFile(projectEnvoy)
	if err != nil {
		t.Fatal(err)
	}
	const routerFilter = "          - name: envoy.filters.http.router\n"
	const workerCluster = "  - name: worker\n    type: STATIC\n"
	cases := []struct {
		name     string
		old, new string
		want     error
		mention  string
	}{
		{name: "a filter the dev edge does not implement",
			old: routerFilter, new: "          - name: envoy.filters.http.lua\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua\n              default_source_code: {inline_string: \"\"}\n" + routerFilter,
			want: ErrUnsupported, mention: "envoy.extensions.filters.http.lua.v3.Lua"},
		{name: "a cluster field the dev edge does not implement",
			old: workerCluster, new: workerCluster + "    circuit_breakers: {thresholds: [{max_requests: 10}]}\n",
			want: ErrUnsupported, mention: "circuit_breakers"},
		{name: "a cluster type other than STATIC",
			old: workerCluster, new: "  - name: worker\n    type: STRICT_DNS\n",
			want: ErrUnsupported, mention: "clusters[2].type"},
		{name: "a regex route match",
			old: "match: {prefix: /oauth2/}", new: "match: {safe_regex: {regex: \"/oauth2/.*\"}}",
			want: ErrUnsupported, mention: "safe_regex"},
		{name: "ext_authz with the request body",
			old: "              failure_mode_allow: false\n", new: "              failure_mode_allow: false\n              with_request_body: {max_request_bytes: 1024}\n",
			want: ErrUnsupported, mention: "with_request_body"},
		{name: "an unknown access log operator",
			old: `"%PROTOCOL%"`, new: `"%UPSTREAM_TRANSPORT_FAILURE_REASON%"`,
			want: ErrUnsupported, mention: "UPSTREAM_TRANSPORT_FAILURE_REASON"},
		{name: "a field Envoy does not know",
			old: "use_remote_address: true", new: "use_remote_adress: true",
			want: ErrInvalid, mention: "use_remote_adress"},
		{name: "a route to a missing cluster",
			old: "route: {cluster: extauthz_http, timeout: 10s}", new: "route: {cluster: issuer, timeout: 10s}",
			want: ErrInvalid, mention: "issuer"},
		{name: "a value the protos' rules reject",
			old: "connect_timeout: 0.25s", new: "connect_timeout: -1s",
			want: ErrInvalid, mention: "ConnectTimeout"},
		{name: "the router not last",
			old: routerFilter + "            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n",
			new: "", want: ErrInvalid, mention: "router"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(base), tc.old) {
				t.Fatalf("envoy.yaml no longer contains %q", tc.old)
			}
			_, err := build(strings.Replace(string(base), tc.old, tc.new, 1))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %v, want %v mentioning %q", err, tc.want, tc.mention)
			}
		})
	}
	t.Run("the project's file is accepted", func(t *testing.T) {
		if _, err := build(string(base)); err != nil {
			t.Fatal(err)
		}
	})
}

func build(yaml string) (*Edge, error) {
	b, err := Parse([]byte(yaml))
	if err != nil {
		return nil, err
	}
	e, err := New(b, Options{})
	if err == nil {
		e.close()
	}
	return e, err
}
