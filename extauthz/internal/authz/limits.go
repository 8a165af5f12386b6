package authz

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/policy"
	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// Reason codes of the limits step (besides ratelimit.ReasonRateLimited and
// ratelimit.ReasonQuotaExceeded).
const ReasonLimiterUnavailable = "ratelimit_unavailable"

// unavailableRetryAfter is what a client is told to wait when the limiter cannot decide.
const unavailableRetryAfter = time.Second

// Limits applies per-client rate limits and quotas. Tiers are immutable once in a Policy.
type Limits struct {
	Limiter ratelimit.Limiter
	Tiers   map[string]*ratelimit.Tier
	Default *ratelimit.Tier
	// Overrides maps client ids to tiers from the configuration; they win over every other source.
	Overrides map[string]*ratelimit.Tier
	// Registry, when set, names the tier the issuer's client registry assigns ("" for none).
	Registry func(clientID string) string
}

// TierFor resolves a client's tier: a configuration override, then the issuer's client
// registry, then the token's tier claim, else the default tier. A name that is not a
// configured tier is skipped, so a token cannot promote itself to a tier that does not exist.
func (l *Limits) TierFor(c *token.Claims) *ratelimit.Tier {
	if t, ok := l.Overrides[c.ClientID]; ok {
		return t
	}
	if l.Registry != nil {
		if t, ok := l.Tiers[l.Registry(c.ClientID)]; ok {
			return t
		}
	}
	if t, ok := l.Tiers[c.Tier]; ok {
		return t
	}
	return l.Default
}

// apply runs the limiter for an otherwise allowed request and returns the final decision.
func (l *Limits) apply(ctx context.Context, c *token.Claims, need policy.Requirement) Decision {
	tier := l.TierFor(c)
	res, err := l.Limiter.Allow(ctx, ratelimit.Request{ClientID: c.ClientID, Tier: tier, Cost: need.Cost})
	switch {
	case errors.Is(err, ratelimit.ErrUnavailable):
		return Decision{Status: http.StatusServiceUnavailable, Reason: ReasonLimiterUnavailable,
			Error: "temporarily_unavailable", Description: "the rate limiter is unavailable; retry shortly",
			RetryAfter: unavailableRetryAfter, Claims: c, Need: need, Tier: tier}
	case err != nil:
		d := denyInternal()
		d.Claims, d.Need, d.Tier = c, need, tier
		return d
	case !res.Allowed:
		return denyLimit(c, need, tier, res)
	}
	d := allow(c, need)
	d.Tier, d.Limit = tier, &res
	return d
}

// denyLimit is the 429 decision: Retry-After when waiting can help, and the RateLimit fields.
func denyLimit(c *token.Claims, need policy.Requirement, tier *ratelimit.Tier, res ratelimit.Result) Decision {
	d := Decision{Status: http.StatusTooManyRequests, Reason: res.Reason, Error: res.Reason,
		Claims: c, Need: need, Tier: tier, Limit: &res, RetryAfter: res.RetryAfter}
	switch {
	case res.Unsatisfiable:
		d.Description = "the request costs more than the client's tier allows at once"
	case res.Reason == ratelimit.ReasonQuotaExceeded:
		d.Description = "the client's quota is used up for the current window"
	default:
		d.Description = "the client's request rate is over its limit"
	}
	return d
}

// retryAfterSeconds renders Retry-After (RFC 9110 §10.2.3) as whole seconds, rounded up.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}
