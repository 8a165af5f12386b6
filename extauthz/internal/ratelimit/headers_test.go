package ratelimit

import (
	"testing"
	"time"
)

func TestHeaders(t *testing.T) {
	tests := []struct {
		name       string
		res        Result
		policy, rl string
	}{
		{
			name: "free tier after one request",
			res: Result{Allowed: true, Policies: []PolicyState{
				{"burst", 10, 2 * time.Second, 9, 200 * time.Millisecond},
				{"day", 1000, 24 * time.Hour, 999, 18*time.Hour + 20*time.Minute - time.Microsecond}}},
			policy: `"burst";q=10;w=2, "day";q=1000;w=86400`,
			rl:     `"burst";r=9;t=1, "day";r=999;t=66000`,
		},
		{
			name:   "full bucket resets now",
			res:    Result{Allowed: true, Policies: []PolicyState{{"burst", 400, 2 * time.Second, 400, 0}}},
			policy: `"burst";q=400;w=2`,
			rl:     `"burst";r=400;t=0`,
		},
		{
			name: "all four quotas",
			res: Result{Policies: []PolicyState{
				{"burst", 1, time.Second, 0, time.Second},
				{"minute", 60, time.Minute, 0, 30 * time.Second},
				{"hour", 3600, time.Hour, 10, time.Hour},
				{"day", 86400, 24 * time.Hour, 5, time.Second},
				{"month", 5_000_000, 30 * 24 * time.Hour, 4_999_999, 1500 * time.Millisecond}}},
			policy: `"burst";q=1;w=1, "minute";q=60;w=60, "hour";q=3600;w=3600, "day";q=86400;w=86400, "month";q=5000000;w=2592000`,
			rl:     `"burst";r=0;t=1, "minute";r=0;t=30, "hour";r=10;t=3600, "day";r=5;t=1, "month";r=4999999;t=2`,
		},
		{
			name:   "values beyond Structured Field Integers are clamped",
			res:    Result{Policies: []PolicyState{{"burst", 1 << 62, time.Second, -5, -time.Second}}},
			policy: `"burst";q=999999999999999;w=1`,
			rl:     `"burst";r=0;t=0`,
		},
		{
			name:   "names are serialized as Strings",
			res:    Result{Policies: []PolicyState{{"a\"b\\c\x01é", 1, time.Second, 1, 0}}},
			policy: `"a\"b\\c???";q=1;w=1`,
			rl:     `"a\"b\\c???";r=1;t=0`,
		},
		{name: "failed decision has no fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			policy, rl := tc.res.Headers()
			if policy != tc.policy {
				t.Errorf("RateLimit-Policy = %s\nwant               %s", policy, tc.policy)
			}
			if rl != tc.rl {
				t.Errorf("RateLimit = %s\nwant        %s", rl, tc.rl)
			}
		})
	}
}

func TestHeadersFromDecision(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC))
	l := NewLocal(LocalOptions{Now: clock.Now})
	tier := &Tier{Name: "free", Rate: 5, Burst: 10, Quotas: []Quota{{Day, 1000}}}
	var res Result
	for range 3 {
		var err error
		if res, err = l.Allow(t.Context(), Request{ClientID: "c", Tier: tier, Cost: 1}); err != nil {
			t.Fatal(err)
		}
	}
	policy, rl := res.Headers()
	if want := `"burst";q=10;w=2, "day";q=1000;w=86400`; policy != want {
		t.Errorf("RateLimit-Policy = %s, want %s", policy, want)
	}
	if want := `"burst";r=7;t=1, "day";r=997;t=3600`; rl != want {
		t.Errorf("RateLimit = %s, want %s", rl, want)
	}
}
