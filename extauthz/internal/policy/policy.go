// Package policy resolves what a request needs to pass: the scopes (any-of), the model and the
// cost. Envoy sends them per route as ext_authz context_extensions; proxies that cannot (Istio
// CUSTOM, others) are served by a route table from the configuration.
//
// A Table is immutable after New and safe for concurrent use.
package policy

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Context extension keys Envoy sets per route.
const (
	KeyScope = "scope"
	KeyModel = "model"
	KeyCost  = "cost"
)

// Errors returned by Resolve.
var (
	// ErrNoRoute means no context was sent and no route matched.
	ErrNoRoute = errors.New("policy: no route matches the request")
	// ErrBadContext means Envoy sent context_extensions that cannot be used (a proxy
	// misconfiguration, not a client error).
	ErrBadContext = errors.New("policy: invalid route context")
)

// Requirement is what one request must satisfy.
type Requirement struct {
	// Scopes holds the scopes of which the token must carry at least one. Empty only when the
	// table allows unmatched requests for any authenticated client.
	Scopes []string
	Model  string
	Cost   int64
	// Matched is false when no route matched and the table's NoRoute policy let it through.
	Matched bool
}

// Route is one row of the table.
type Route struct {
	PathPrefix string
	Path       string   // exact path; checked before prefixes
	Methods    []string // empty = any method
	Scopes     []string
	Model      string
	Cost       int64
}

// Table matches requests to routes: exact paths first, then the longest matching prefix.
type Table struct {
	exact         []Route
	prefixes      []Route // sorted by descending prefix length
	allowNoRoute  bool
	unmatchedNeed Requirement
}

// New builds a table. With allowUnmatched, a request matching no route needs only a valid
// token (no scope); otherwise it is denied.
func New(routes []Route, allowUnmatched bool) *Table {
	t := &Table{allowNoRoute: allowUnmatched, unmatchedNeed: Requirement{Cost: 1}}
	for _, r := range routes {
		r.Methods = upper(r.Methods)
		if r.Path != "" {
			t.exact = append(t.exact, r)
		} else {
			t.prefixes = append(t.prefixes, r)
		}
	}
	sort.SliceStable(t.prefixes, func(i, j int) bool {
		return len(t.prefixes[i].PathPrefix) > len(t.prefixes[j].PathPrefix)
	})
	return t
}

// Context is the policy part of a CheckRequest's context_extensions: the values of the policy
// keys and which of them were present. Other keys are not policy and are not kept.
type Context struct {
	Scope, Model, Cost          string
	HasScope, HasModel, HasCost bool
}

// Set records one context_extensions entry, as the bytes of the received message; a key that
// is not a policy key is ignored (and nothing of it is copied). As in a protobuf map, a later
// entry with the same key replaces an earlier one.
func (c *Context) Set(key, value []byte) {
	switch string(key) {
	case KeyScope:
		c.Scope, c.HasScope = string(value), true
	case KeyModel:
		c.Model, c.HasModel = string(value), true
	case KeyCost:
		c.Cost, c.HasCost = string(value), true
	}
}

// Resolve returns the requirement for a request. ext holds the CheckRequest's policy context;
// when any policy key is present it wins over the table. path must not contain the query.
func (t *Table) Resolve(ext Context, method, path string) (Requirement, error) {
	if req, ok, err := fromContext(ext); ok || err != nil {
		return req, err
	}
	for _, r := range t.exact {
		if r.Path == path && methodAllowed(r.Methods, method) {
			return r.requirement(), nil
		}
	}
	for _, r := range t.prefixes {
		if strings.HasPrefix(path, r.PathPrefix) && methodAllowed(r.Methods, method) {
			return r.requirement(), nil
		}
	}
	if t.allowNoRoute {
		return t.unmatchedNeed, nil
	}
	return Requirement{}, ErrNoRoute
}

func (r Route) requirement() Requirement {
	return Requirement{Scopes: r.Scopes, Model: r.Model, Cost: r.Cost, Matched: true}
}

// fromContext reads the policy keys of context_extensions. ok is false when none is present.
func fromContext(ext Context) (req Requirement, ok bool, err error) {
	if !ext.HasScope && !ext.HasModel && !ext.HasCost {
		return Requirement{}, false, nil
	}
	req = Requirement{Scopes: strings.Fields(ext.Scope), Model: ext.Model, Cost: 1, Matched: true}
	if len(req.Scopes) == 0 {
		// Deny by default: a route that names a model but no scope is a misconfiguration.
		return Requirement{}, true, fmt.Errorf("%w: %q is empty", ErrBadContext, KeyScope)
	}
	if ext.HasCost {
		n, perr := strconv.ParseInt(strings.TrimSpace(ext.Cost), 10, 64)
		if perr != nil || n < 1 {
			return Requirement{}, true, fmt.Errorf("%w: %q must be a positive integer", ErrBadContext, KeyCost)
		}
		req.Cost = n
	}
	return req, true, nil
}

func methodAllowed(methods []string, method string) bool {
	if len(methods) == 0 {
		return true
	}
	for _, m := range methods {
		if m == method {
			return true
		}
	}
	return false
}

func upper(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToUpper(s)
	}
	return out
}
