package ratelimit

import (
	"errors"
	"testing"
	"time"
)

func TestTierValidate(t *testing.T) {
	tests := []struct {
		name string
		tier *Tier
		ok   bool
	}{
		{"free tier", &Tier{Name: "free", Rate: 5, Burst: 10, Quotas: []Quota{{Day, 1000}}}, true},
		{"all four windows", &Tier{Name: "t", Rate: 1e6, Burst: 1, Quotas: []Quota{{Minute, 1}, {Hour, 1}, {Day, 1}, {Month, 1}}}, true},
		{"nil", nil, false},
		{"zero rate", &Tier{Name: "t", Burst: 1}, false},
		{"rate above 1e6", &Tier{Name: "t", Rate: 1e6 + 1, Burst: 1}, false},
		{"NaN rate", &Tier{Name: "t", Rate: nanRate(), Burst: 1}, false},
		{"zero burst", &Tier{Name: "t", Rate: 1}, false},
		{"unknown window", &Tier{Name: "t", Rate: 1, Burst: 1, Quotas: []Quota{{"week", 1}}}, false},
		{"two day quotas", &Tier{Name: "t", Rate: 1, Burst: 1, Quotas: []Quota{{Day, 1}, {Day, 2}}}, false},
		{"zero quota", &Tier{Name: "t", Rate: 1, Burst: 1, Quotas: []Quota{{Day, 0}}}, false},
		{"quota above 2^50", &Tier{Name: "t", Rate: 1, Burst: 1, Quotas: []Quota{{Day, 1<<50 + 1}}}, false},
		{"burst of 2^50 µs at 1/s", &Tier{Name: "t", Rate: 1, Burst: (1 << 50) / 1_000_000}, true},
		{"burst beyond 2^50 µs at 1/s", &Tier{Name: "t", Rate: 1, Burst: (1<<50)/1_000_000 + 1}, false},
		{"name not UTF-8", &Tier{Name: "\xff", Rate: 1, Burst: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.tier.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidTier)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func nanRate() float64 {
	zero := 0.0
	return zero / zero
}

func TestWindowSpan(t *testing.T) {
	d := func(y int, m time.Month, day, h, mi, s int) time.Time {
		return time.Date(y, m, day, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		name       string
		window     Window
		at         time.Time
		start, end time.Time
	}{
		{"minute", Minute, d(2026, 11, 29, 5, 40, 59), d(2026, 11, 29, 5, 40, 0), d(2026, 11, 29, 5, 41, 0)},
		{"hour at its first second", Hour, d(2026, 11, 29, 5, 0, 0), d(2026, 11, 29, 5, 0, 0), d(2026, 11, 29, 6, 0, 0)},
		{"day at its last second", Day, d(2026, 12, 31, 23, 59, 59), d(2026, 12, 31, 0, 0, 0), d(2027, 1, 1, 0, 0, 0)},
		{"month December", Month, d(2026, 12, 15, 1, 2, 3), d(2026, 12, 1, 0, 0, 0), d(2027, 1, 1, 0, 0, 0)},
		{"month leap February", Month, d(2028, 2, 29, 23, 59, 59), d(2028, 2, 1, 0, 0, 0), d(2028, 3, 1, 0, 0, 0)},
		{"month February of 2100, not leap", Month, d(2100, 2, 28, 12, 0, 0), d(2100, 2, 1, 0, 0, 0), d(2100, 3, 1, 0, 0, 0)},
		{"month before 1970", Month, d(1969, 12, 31, 23, 59, 59), d(1969, 12, 1, 0, 0, 0), d(1970, 1, 1, 0, 0, 0)},
		{"minute before 1970", Minute, d(1969, 12, 31, 23, 59, 59), d(1969, 12, 31, 23, 59, 0), d(1970, 1, 1, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end := tc.window.span(tc.at.Unix())
			if start != tc.start.Unix() || end != tc.end.Unix() {
				t.Fatalf("span = %v..%v, want %v..%v", time.Unix(start, 0).UTC(), time.Unix(end, 0).UTC(), tc.start, tc.end)
			}
		})
	}
}
