package authz

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/policy"
	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// Reason codes that are not token failures. Token failures carry the token package's reason
// codes (missing_token, malformed, bad_signature, unknown_kid, expired, ...).
const (
	ReasonAllowed           = "allowed"
	ReasonInsufficientScope = "insufficient_scope"
	ReasonNoRoute           = "no_route"
	ReasonBadRouteContext   = "bad_route_context"
	ReasonInternal          = "internal_error"
)

// Decision is the outcome of one Check: what the response says and what the audit log and the
// metrics record.
type Decision struct {
	Allowed bool
	Status  int    // HTTP status of a denial; 200 when allowed
	Reason  string // machine reason code
	// Error and Description form the RFC 6750 error and the JSON body; Error is empty for a
	// request that carried no credentials (RFC 6750 §3.1).
	Error       string
	Description string
	Claims      *token.Claims // nil unless the token verified
	Need        policy.Requirement
	// Tier and Limit are set once the limits step ran (Limit is nil when no limiter decided).
	Tier  *ratelimit.Tier
	Limit *ratelimit.Result
	// RetryAfter, when positive, is sent as Retry-After on a denial (429, 503).
	RetryAfter time.Duration
}

// allow builds the decision for a request that passed every check.
func allow(c *token.Claims, need policy.Requirement) Decision {
	return Decision{Allowed: true, Status: http.StatusOK, Reason: ReasonAllowed, Claims: c, Need: need}
}

// denyToken maps a token failure to a 401 (RFC 6750 §3.1 invalid_token).
func denyToken(err error) Decision {
	var te *token.Error
	if !errors.As(err, &te) {
		return denyInternal()
	}
	d := Decision{Status: http.StatusUnauthorized, Reason: te.Reason, Error: "invalid_token", Description: te.Description}
	if errors.Is(err, token.ErrMissing) {
		// "If the request lacks any authentication information ..., the resource server
		// SHOULD NOT include an error code or other error information." (RFC 6750 §3.1)
		d.Error = ""
	}
	return d
}

// denyScope is the 403 insufficient_scope decision (RFC 6750 §3.1).
func denyScope(c *token.Claims, need policy.Requirement) Decision {
	return Decision{
		Status: http.StatusForbidden, Reason: ReasonInsufficientScope, Error: "insufficient_scope",
		Description: "the access token does not carry a scope this route requires",
		Claims:      c, Need: need,
	}
}

// denyRoute maps a policy failure: no route is a 403, an unusable route context a 500 (the
// proxy is misconfigured, the client did nothing wrong).
func denyRoute(c *token.Claims, err error) Decision {
	if errors.Is(err, policy.ErrNoRoute) {
		return Decision{Status: http.StatusForbidden, Reason: ReasonNoRoute, Error: "access_denied",
			Description: "no policy allows this method and path", Claims: c}
	}
	d := denyInternal()
	d.Reason, d.Claims = ReasonBadRouteContext, c
	return d
}

func denyInternal() Decision {
	return Decision{Status: http.StatusInternalServerError, Reason: ReasonInternal, Error: "server_error",
		Description: "the authorization service could not decide"}
}

// wwwAuthenticate renders the RFC 6750 §3 challenge, or "" when the status takes none.
func (d Decision) wwwAuthenticate() string {
	if d.Status != http.StatusUnauthorized && d.Reason != ReasonInsufficientScope {
		return ""
	}
	var b strings.Builder
	b.WriteString(`Bearer realm="torchgate"`)
	if d.Error != "" {
		b.WriteString(`, error="` + d.Error + `"`)
		if d.Description != "" {
			b.WriteString(`, error_description="` + quotable(d.Description) + `"`)
		}
	}
	if d.Reason == ReasonInsufficientScope {
		b.WriteString(`, scope="` + quotable(strings.Join(d.Need.Scopes, " ")) + `"`)
	}
	return b.String()
}

// quotable keeps only the characters RFC 6750 §3 allows inside error_description and scope
// (%x20-21 / %x23-5B / %x5D-7E): no quote, no backslash, no control or non-ASCII bytes.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
