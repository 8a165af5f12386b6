package policy

import (
	"errors"
	"slices"
	"testing"
)

func TestResolve(t *testing.T) {
	table := New([]Route{
		{PathPrefix: "/v2/models/mlp/", Methods: []string{"post"}, Scopes: []string{"infer:mlp", "infer:all"}, Model: "mlp", Cost: 1},
		{PathPrefix: "/v2/models/", Scopes: []string{"infer:all"}, Cost: 2},
		{Path: "/v2/models/mlp/ready", Scopes: []string{"read"}, Model: "mlp", Cost: 1},
	}, false)
	tests := []struct {
		name    string
		ext     map[string]string
		method  string
		path    string
		want    Requirement
		wantErr error
	}{
		{name: "longest prefix wins", method: "POST", path: "/v2/models/mlp/infer",
			want: Requirement{Scopes: []string{"infer:mlp", "infer:all"}, Model: "mlp", Cost: 1, Matched: true}},
		{name: "method filter falls through to shorter prefix", method: "GET", path: "/v2/models/mlp/infer",
			want: Requirement{Scopes: []string{"infer:all"}, Cost: 2, Matched: true}},
		{name: "exact path before prefixes", method: "GET", path: "/v2/models/mlp/ready",
			want: Requirement{Scopes: []string{"read"}, Model: "mlp", Cost: 1, Matched: true}},
		{name: "no route", method: "GET", path: "/admin", wantErr: ErrNoRoute},
		{name: "context extensions win over the table",
			ext:    map[string]string{"scope": " infer:cnn  infer:all ", "model": "cnn", "cost": "4"},
			method: "POST", path: "/v2/models/mlp/infer",
			want: Requirement{Scopes: []string{"infer:cnn", "infer:all"}, Model: "cnn", Cost: 4, Matched: true}},
		{name: "context cost defaults to 1", ext: map[string]string{"scope": "a"}, path: "/x",
			want: Requirement{Scopes: []string{"a"}, Cost: 1, Matched: true}},
		{name: "context without scope is a misconfiguration", ext: map[string]string{"model": "m"}, path: "/x", wantErr: ErrBadContext},
		{name: "context with bad cost", ext: map[string]string{"scope": "a", "cost": "-3"}, path: "/x", wantErr: ErrBadContext},
		{name: "context with non-numeric cost", ext: map[string]string{"scope": "a", "cost": "1e3"}, path: "/x", wantErr: ErrBadContext},
		{name: "unrelated context keys are ignored", ext: map[string]string{"tenant": "x"}, method: "POST", path: "/v2/models/mlp/infer",
			want: Requirement{Scopes: []string{"infer:mlp", "infer:all"}, Model: "mlp", Cost: 1, Matched: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := table.Resolve(contextOf(tc.ext), tc.method, tc.path)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(got.Scopes, tc.want.Scopes) || got.Model != tc.want.Model || got.Cost != tc.want.Cost || got.Matched != tc.want.Matched {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResolveUnmatchedAuthenticated(t *testing.T) {
	got, err := New(nil, true).Resolve(Context{}, "GET", "/anything")
	if err != nil {
		t.Fatal(err)
	}
	if got.Matched || len(got.Scopes) != 0 || got.Cost != 1 {
		t.Errorf("got %+v, want an unmatched requirement with no scope and cost 1", got)
	}
}

// contextOf builds the policy context of a context_extensions map.
func contextOf(ext map[string]string) Context {
	var c Context
	for k, v := range ext {
		c.Set([]byte(k), []byte(v))
	}
	return c
}

func TestContextSetKeepsOnlyPolicyKeys(t *testing.T) {
	var c Context
	c.Set([]byte("tenant"), []byte("x"))
	c.Set([]byte(KeyCost), []byte("2"))
	c.Set([]byte(KeyCost), []byte("3"))
	if c != (Context{Cost: "3", HasCost: true}) {
		t.Errorf("context = %+v", c)
	}
}
