package ratelimit

import "time"

// micros is one second in microseconds, the unit of all limiter times.
const micros = 1_000_000

// state is a client's limiter state before a request.
type state struct {
	// tat is the GCRA theoretical arrival time in Unix µs; values at or
	// before now mean a full burst.
	tat int64
	// used is the usage of the current window of each tier quota, in the
	// tier's order.
	used []int64
}

// decide computes the decision for a request of cost at now (Unix µs) from
// the client's prior state. It returns the result and the TAT to store when
// the request is allowed. Local applies the same decision to its memory; the
// Redis script applies it to Redis (the same arithmetic in Lua) and returns
// the prior state, from which Go rebuilds the result with decide.
func decide(now int64, t *Tier, cost int64, st state) (Result, int64) {
	emission := t.emissionMicros()
	tolerance := t.Burst * emission
	tat := max(st.tat, now)
	newTAT := tat + cost*emission // meaningless (may overflow) when cost > Burst
	rateOK := cost <= t.Burst && newTAT-tolerance <= now

	var res Result
	var retry int64
	if !rateOK {
		res.Reason = ReasonRateLimited
		res.Unsatisfiable = cost > t.Burst
		retry = newTAT - tolerance - now
	}
	sec := floorDiv(now, micros)
	quotaOK := true
	for i, q := range t.Quotas {
		if st.used[i]+cost <= q.Limit {
			continue
		}
		quotaOK = false
		res.Reason = ReasonQuotaExceeded
		res.Unsatisfiable = res.Unsatisfiable || cost > q.Limit
		_, end := q.Window.span(sec)
		retry = max(retry, end*micros-now)
	}
	res.Allowed = rateOK && quotaOK
	if !res.Allowed && !res.Unsatisfiable {
		res.RetryAfter = time.Duration(retry) * time.Microsecond
	}

	spent := int64(0)
	after := tat
	if res.Allowed {
		spent, after = cost, newTAT
	}
	res.Policies = make([]PolicyState, 0, 1+len(t.Quotas))
	res.Policies = append(res.Policies, PolicyState{
		Name:      "burst",
		Quota:     t.Burst,
		Window:    time.Duration(max(1, ceilDiv(tolerance, micros))) * time.Second,
		Remaining: max(0, (now+tolerance-after)/emission),
		Reset:     time.Duration(after-now) * time.Microsecond,
	})
	for i, q := range t.Quotas {
		start, end := q.Window.span(sec)
		res.Policies = append(res.Policies, PolicyState{
			Name:      string(q.Window),
			Quota:     q.Limit,
			Window:    time.Duration(end-start) * time.Second,
			Remaining: max(0, q.Limit-st.used[i]-spent),
			Reset:     time.Duration(end*micros-now) * time.Microsecond,
		})
	}
	return res, newTAT
}

// floorDiv is a/b rounded toward negative infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	return (a - mod(a, b)) / b
}

// ceilDiv is a/b rounded toward positive infinity, for a >= 0 and b > 0.
func ceilDiv(a, b int64) int64 {
	return (a + b - 1) / b
}
