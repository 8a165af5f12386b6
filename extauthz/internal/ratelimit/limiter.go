package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Reasons for a denial, as Result.Reason and as the result label of
// torchgate_ratelimit_decisions_total.
const (
	ReasonRateLimited   = "rate_limited"
	ReasonQuotaExceeded = "quota_exceeded"
)

// Limiter decides whether a request may pass. Implementations are safe for
// concurrent use.
type Limiter interface {
	// Allow decides over all of the request's limits at once and, when it
	// allows, consumes the request's cost from every limit.
	Allow(ctx context.Context, r Request) (Result, error)
}

// Request is one check's demand.
type Request struct {
	// ClientID identifies whose limits apply.
	ClientID string
	// Tier holds the limits; it is read at every request, so a changed tier
	// applies on the next one.
	Tier *Tier
	// Cost is the number of units the request spends, in [1, 2^50].
	Cost int64
}

// Result is the outcome of one decision over all of a request's limits.
type Result struct {
	// Allowed reports whether the request passed and its cost was consumed.
	Allowed bool
	// Reason is "" when allowed, else ReasonQuotaExceeded when a quota
	// refused (even if the rate refused too), else ReasonRateLimited.
	Reason string
	// RetryAfter is, when denied, the earliest time after which the same
	// request could pass if nothing else is spent meanwhile. It is zero when
	// Unsatisfiable.
	RetryAfter time.Duration
	// Unsatisfiable reports a denial that no wait can cure: the cost exceeds
	// the tier's burst (Reason rate_limited) or a quota's limit (Reason
	// quota_exceeded). Callers should not send Retry-After for it.
	Unsatisfiable bool
	// Policies is the state of each limit after the decision: the burst
	// policy first, then one per quota in the tier's order. It feeds the
	// RateLimit header fields (see Headers) and quota metrics.
	Policies []PolicyState
	// Degraded reports a decision by the local fallback because Redis failed.
	Degraded bool
}

// PolicyState is one limit's quota policy and current service limit, in the
// terms of the IETF RateLimit header fields.
type PolicyState struct {
	// Name identifies the policy: "burst" for the rate and burst, else the
	// quota's window ("minute", "hour", "day", "month").
	Name string
	// Quota is the policy's quota in cost units (q): Burst, or the quota limit.
	Quota int64
	// Window is the policy's time window (w). For "burst" it is the time the
	// rate takes to refill the whole burst, rounded up to a whole second
	// (at least 1 s); for a quota the calendar window's length.
	Window time.Duration
	// Remaining is the quota available now (r).
	Remaining int64
	// Reset is the time until the policy is fully restored (t): the burst
	// refilled, or the end of the quota's calendar window.
	Reset time.Duration
}

// validate checks a request before any limiter state is touched.
func (r Request) validate() error {
	if r.ClientID == "" {
		return fmt.Errorf("%w: empty client id", ErrInvalidRequest)
	}
	if r.Cost < 1 || r.Cost > maxUnits {
		return fmt.Errorf("%w: cost %d outside [1, 2^50]", ErrInvalidRequest, r.Cost)
	}
	if err := r.Tier.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return nil
}
