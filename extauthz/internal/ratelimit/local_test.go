package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// step is one request of a scenario: advance the clock, then Allow.
type step struct {
	advance time.Duration
	cost    int64
	want    Result // Policies compared only when non-nil
}

var t0 = time.Date(2026, 11, 29, 5, 40, 0, 0, time.UTC)

func TestLocalScenarios(t *testing.T) {
	free := &Tier{Name: "free", Rate: 5, Burst: 10, Quotas: []Quota{{Day, 1000}}}
	tests := []struct {
		name  string
		tier  *Tier
		start time.Time
		steps []step
	}{
		{
			name: "burst spent at once then one unit per emission interval",
			tier: &Tier{Name: "t", Rate: 5, Burst: 3},
			steps: []step{
				{cost: 1, want: Result{Allowed: true, Policies: []PolicyState{{"burst", 3, time.Second, 2, 200 * time.Millisecond}}}},
				{cost: 1, want: Result{Allowed: true, Policies: []PolicyState{{"burst", 3, time.Second, 1, 400 * time.Millisecond}}}},
				{cost: 1, want: Result{Allowed: true, Policies: []PolicyState{{"burst", 3, time.Second, 0, 600 * time.Millisecond}}}},
				{cost: 1, want: Result{Reason: ReasonRateLimited, RetryAfter: 200 * time.Millisecond,
					Policies: []PolicyState{{"burst", 3, time.Second, 0, 600 * time.Millisecond}}}},
				{advance: 199 * time.Millisecond, cost: 1, want: Result{Reason: ReasonRateLimited, RetryAfter: time.Millisecond,
					Policies: []PolicyState{{"burst", 3, time.Second, 0, 401 * time.Millisecond}}}},
				{advance: time.Millisecond, cost: 1, want: Result{Allowed: true,
					Policies: []PolicyState{{"burst", 3, time.Second, 0, 600 * time.Millisecond}}}},
			},
		},
		{
			name: "cost weighted: cost 4 needs four intervals of room",
			tier: &Tier{Name: "t", Rate: 10, Burst: 10},
			steps: []step{
				{cost: 4, want: Result{Allowed: true}},
				{cost: 4, want: Result{Allowed: true}},
				{cost: 4, want: Result{Reason: ReasonRateLimited, RetryAfter: 200 * time.Millisecond}},
				{advance: 200 * time.Millisecond, cost: 4, want: Result{Allowed: true}},
			},
		},
		{
			name: "idle time refills the burst but never beyond it",
			tier: &Tier{Name: "t", Rate: 1, Burst: 2},
			steps: []step{
				{cost: 2, want: Result{Allowed: true}},
				{advance: time.Hour, cost: 2, want: Result{Allowed: true}},
				{cost: 1, want: Result{Reason: ReasonRateLimited, RetryAfter: time.Second}},
			},
		},
		{
			name: "cost above burst can never pass and gets no retry",
			tier: &Tier{Name: "t", Rate: 100, Burst: 3},
			steps: []step{
				{cost: 4, want: Result{Reason: ReasonRateLimited, Unsatisfiable: true}},
				{advance: time.Hour, cost: 4, want: Result{Reason: ReasonRateLimited, Unsatisfiable: true}},
				{cost: 1 << 50, want: Result{Reason: ReasonRateLimited, Unsatisfiable: true}},
				{cost: 3, want: Result{Allowed: true}},
			},
		},
		{
			name: "cost above a quota limit can never pass",
			tier: &Tier{Name: "t", Rate: 100, Burst: 100, Quotas: []Quota{{Minute, 5}}},
			steps: []step{
				{cost: 6, want: Result{Reason: ReasonQuotaExceeded, Unsatisfiable: true}},
			},
		},
		{
			name:  "quota denies until the window ends, then resets",
			tier:  &Tier{Name: "t", Rate: 1000, Burst: 1000, Quotas: []Quota{{Minute, 3}}},
			start: t0.Add(50 * time.Second),
			steps: []step{
				{cost: 2, want: Result{Allowed: true}},
				{cost: 1, want: Result{Allowed: true, Policies: []PolicyState{
					{"burst", 1000, time.Second, 997, 3 * time.Millisecond},
					{"minute", 3, time.Minute, 0, 10 * time.Second}}}},
				{advance: 4 * time.Second, cost: 1, want: Result{Reason: ReasonQuotaExceeded, RetryAfter: 6 * time.Second}},
				{advance: 6 * time.Second, cost: 3, want: Result{Allowed: true}},
			},
		},
		{
			name: "all or nothing: a quota denial consumes no burst",
			tier: &Tier{Name: "t", Rate: 1, Burst: 2, Quotas: []Quota{{Hour, 2}, {Day, 100}}},
			steps: []step{
				{cost: 2, want: Result{Allowed: true}},
				{advance: 2 * time.Second, cost: 1, want: Result{Reason: ReasonQuotaExceeded, RetryAfter: 20*time.Minute - 2*time.Second,
					Policies: []PolicyState{
						{"burst", 2, 2 * time.Second, 2, 0},
						{"hour", 2, time.Hour, 0, 20*time.Minute - 2*time.Second},
						{"day", 100, 24 * time.Hour, 98, 18*time.Hour + 20*time.Minute - 2*time.Second}}}},
			},
		},
		{
			name: "all or nothing: a rate denial consumes no quota",
			tier: &Tier{Name: "t", Rate: 1, Burst: 1, Quotas: []Quota{{Day, 10}}},
			steps: []step{
				{cost: 1, want: Result{Allowed: true}},
				{cost: 1, want: Result{Reason: ReasonRateLimited, RetryAfter: time.Second, Policies: []PolicyState{
					{"burst", 1, time.Second, 0, time.Second},
					{"day", 10, 24 * time.Hour, 9, 18*time.Hour + 20*time.Minute}}}},
			},
		},
		{
			name: "both refuse: quota reason, retry at the later time",
			tier: &Tier{Name: "t", Rate: 0.001, Burst: 1, Quotas: []Quota{{Minute, 1}}},
			steps: []step{
				{cost: 1, want: Result{Allowed: true}},
				{cost: 1, want: Result{Reason: ReasonQuotaExceeded, RetryAfter: 1000 * time.Second}},
			},
		},
		{
			name:  "month quota rolls over at the calendar month end (leap February)",
			tier:  &Tier{Name: "t", Rate: 1000, Burst: 1000, Quotas: []Quota{{Month, 2}}},
			start: time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC),
			steps: []step{
				{cost: 2, want: Result{Allowed: true, Policies: []PolicyState{
					{"burst", 1000, time.Second, 998, 2 * time.Millisecond},
					{"month", 2, 29 * 24 * time.Hour, 0, time.Second}}}},
				{advance: 999 * time.Millisecond, cost: 1, want: Result{Reason: ReasonQuotaExceeded, RetryAfter: time.Millisecond}},
				{advance: time.Millisecond, cost: 1, want: Result{Allowed: true, Policies: []PolicyState{
					{"burst", 1000, time.Second, 999, time.Millisecond},
					{"month", 2, 31 * 24 * time.Hour, 1, 31 * 24 * time.Hour}}}},
			},
		},
		{
			name:  "day quota rolls over at midnight UTC on New Year",
			tier:  free,
			start: time.Date(2026, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
			steps: []step{
				{cost: 10, want: Result{Allowed: true}},
				{advance: 500 * time.Millisecond, cost: 3, want: Result{Reason: ReasonRateLimited, RetryAfter: 100 * time.Millisecond,
					Policies: []PolicyState{{"burst", 10, 2 * time.Second, 2, 1500 * time.Millisecond}, {"day", 1000, 24 * time.Hour, 1000, 24 * time.Hour}}}},
				{advance: 100 * time.Millisecond, cost: 3, want: Result{Allowed: true,
					Policies: []PolicyState{{"burst", 10, 2 * time.Second, 0, 2 * time.Second}, {"day", 1000, 24 * time.Hour, 997, 24*time.Hour - 100*time.Millisecond}}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := tc.start
			if start.IsZero() {
				start = t0
			}
			clock := newFakeClock(start)
			l := NewLocal(LocalOptions{Now: clock.Now})
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				got, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: tc.tier, Cost: s.cost})
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				checkResult(t, i, got, s.want)
			}
		})
	}
}

func checkResult(t *testing.T, step int, got, want Result) {
	t.Helper()
	if got.Allowed != want.Allowed || got.Reason != want.Reason || got.RetryAfter != want.RetryAfter ||
		got.Unsatisfiable != want.Unsatisfiable || got.Degraded != want.Degraded {
		t.Errorf("step %d: got allowed=%v reason=%q retry=%v unsat=%v degraded=%v, want allowed=%v reason=%q retry=%v unsat=%v degraded=%v",
			step, got.Allowed, got.Reason, got.RetryAfter, got.Unsatisfiable, got.Degraded,
			want.Allowed, want.Reason, want.RetryAfter, want.Unsatisfiable, want.Degraded)
	}
	if want.Policies == nil {
		return
	}
	if len(got.Policies) != len(want.Policies) {
		t.Fatalf("step %d: %d policies, want %d", step, len(got.Policies), len(want.Policies))
	}
	for i := range want.Policies {
		if got.Policies[i] != want.Policies[i] {
			t.Errorf("step %d: policy %d = %+v, want %+v", step, i, got.Policies[i], want.Policies[i])
		}
	}
}

func TestLocalNoDoubleBurstAtWindowEdge(t *testing.T) {
	// A fixed one-second window would allow 2·burst around the edge; GCRA
	// allows burst + rate·elapsed in any interval.
	clock := newFakeClock(t0.Add(999 * time.Millisecond))
	l := NewLocal(LocalOptions{Now: clock.Now})
	tier := &Tier{Name: "t", Rate: 10, Burst: 10}
	allowed := 0
	for range 2 {
		for range 20 {
			res, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: tier, Cost: 1})
			if err != nil {
				t.Fatal(err)
			}
			if res.Allowed {
				allowed++
			}
		}
		clock.Advance(2 * time.Millisecond) // across the second boundary
	}
	if allowed != 10 {
		t.Fatalf("allowed %d across the edge, want 10", allowed)
	}
}

func TestLocalReplicasDivideLimits(t *testing.T) {
	clock := newFakeClock(t0)
	l := NewLocal(LocalOptions{Now: clock.Now, Replicas: 3})
	tier := &Tier{Name: "t", Rate: 30, Burst: 10, Quotas: []Quota{{Day, 7}}}
	res, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: tier, Cost: 1})
	if err != nil {
		t.Fatal(err)
	}
	// burst ceil(10/3)=4 at rate 10/s; day quota ceil(7/3)=3.
	want := Result{Allowed: true, Policies: []PolicyState{
		{"burst", 4, time.Second, 3, 100 * time.Millisecond},
		{"day", 3, 24 * time.Hour, 2, 18*time.Hour + 20*time.Minute}}}
	checkResult(t, 0, res, want)
}

func TestLocalClientsAreIndependent(t *testing.T) {
	l := NewLocal(LocalOptions{Now: newFakeClock(t0).Now})
	tier := &Tier{Name: "t", Rate: 1, Burst: 1}
	for _, id := range []string{"a", "b"} {
		res, err := l.Allow(context.Background(), Request{ClientID: id, Tier: tier, Cost: 1})
		if err != nil || !res.Allowed {
			t.Fatalf("client %s: %+v, %v", id, res, err)
		}
	}
}

func TestLocalForgetsIdleClients(t *testing.T) {
	clock := newFakeClock(t0)
	l := NewLocal(LocalOptions{Now: clock.Now})
	tier := &Tier{Name: "t", Rate: 1000, Burst: 10, Quotas: []Quota{{Minute, 100}}}
	const n = localShards * minSweep * 2
	for i := range n {
		if _, err := l.Allow(context.Background(), Request{ClientID: strconv.Itoa(i), Tier: tier, Cost: 1}); err != nil {
			t.Fatal(err)
		}
		if i == n/2 {
			clock.Advance(time.Minute) // first half idle from here on
		}
	}
	total := 0
	for i := range l.shards {
		total += len(l.shards[i].clients)
	}
	if total >= n {
		t.Fatalf("%d clients remembered after %d, none forgotten", total, n)
	}
}

func TestAllowRejectsInvalidRequests(t *testing.T) {
	good := &Tier{Name: "t", Rate: 1, Burst: 1}
	tests := []struct {
		name string
		req  Request
	}{
		{"empty client id", Request{Tier: good, Cost: 1}},
		{"zero cost", Request{ClientID: "c", Tier: good}},
		{"negative cost", Request{ClientID: "c", Tier: good, Cost: -1}},
		{"cost above 2^50", Request{ClientID: "c", Tier: good, Cost: 1<<50 + 1}},
		{"nil tier", Request{ClientID: "c", Cost: 1}},
		{"zero rate", Request{ClientID: "c", Tier: &Tier{Burst: 1}, Cost: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLocal(LocalOptions{}).Allow(context.Background(), tc.req)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
}
