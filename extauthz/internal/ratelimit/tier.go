package ratelimit

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Tier is one tier's limits. A Tier is read, never modified, by limiters, so
// one Tier may be shared by any number of requests.
type Tier struct {
	// Name labels metrics.
	Name string
	// Rate is the sustained rate in cost units per second (GCRA emission
	// interval = 1/Rate, rounded to a whole microsecond). At most 1e6.
	Rate float64
	// Burst is the number of units that may be spent at once (at least 1).
	Burst int64
	// Quotas are calendar quotas over UTC windows, at most one per window.
	Quotas []Quota
	// Priority is passed to the worker; limiters ignore it.
	Priority int
}

// Window names a calendar quota window. Windows are UTC: a minute, an hour, a
// day, or a calendar month.
type Window string

// The calendar windows.
const (
	Minute Window = "minute"
	Hour   Window = "hour"
	Day    Window = "day"
	Month  Window = "month"
)

// Quota is a calendar quota: at most Limit cost units per Window.
type Quota struct {
	Window Window
	Limit  int64
}

// maxRate is the highest rate with a whole-microsecond emission interval.
const maxRate = 1e6

// maxUnits bounds costs, quota limits and Burst·T (in µs), so that every sum
// the script computes stays an exact integer in Lua's doubles (below 2^53).
const maxUnits = 1 << 50

// Validate reports whether the tier's limits can be enforced. It returns an
// error wrapping ErrInvalidTier.
func (t *Tier) Validate() error {
	if t == nil {
		return fmt.Errorf("%w: nil", ErrInvalidTier)
	}
	if !utf8.ValidString(t.Name) {
		return fmt.Errorf("%w: name is not UTF-8", ErrInvalidTier)
	}
	if !(t.Rate > 0 && t.Rate <= maxRate) {
		return fmt.Errorf("%w: %q: rate %v outside (0, 1e6]", ErrInvalidTier, t.Name, t.Rate)
	}
	if t.Burst < 1 || t.Burst > maxUnits/t.emissionMicros() {
		return fmt.Errorf("%w: %q: burst %d below 1 or above 2^50 µs of rate", ErrInvalidTier, t.Name, t.Burst)
	}
	var seen [numWindows]bool
	for _, q := range t.Quotas {
		i := q.Window.index()
		if i < 0 {
			return fmt.Errorf("%w: %q: unknown quota window %q", ErrInvalidTier, t.Name, q.Window)
		}
		if seen[i] {
			return fmt.Errorf("%w: %q: two %s quotas", ErrInvalidTier, t.Name, q.Window)
		}
		seen[i] = true
		if q.Limit < 1 || q.Limit > maxUnits {
			return fmt.Errorf("%w: %q: %s quota %d outside [1, 2^50]", ErrInvalidTier, t.Name, q.Window, q.Limit)
		}
	}
	return nil
}

// emissionMicros is the GCRA emission interval in whole microseconds.
func (t *Tier) emissionMicros() int64 {
	return max(1, int64(math.Round(1e6/t.Rate)))
}

// numWindows is the number of calendar windows.
const numWindows = 4

// index returns 0..numWindows-1 for a known window, else -1.
func (w Window) index() int {
	switch w {
	case Minute:
		return 0
	case Hour:
		return 1
	case Day:
		return 2
	case Month:
		return 3
	}
	return -1
}

// span returns the UTC window holding the Unix second sec, as start and end
// in Unix seconds. The script computes the same in Lua.
func (w Window) span(sec int64) (start, end int64) {
	switch w {
	case Minute:
		start = sec - mod(sec, 60)
		return start, start + 60
	case Hour:
		start = sec - mod(sec, 3600)
		return start, start + 3600
	case Day:
		start = sec - mod(sec, 86400)
		return start, start + 86400
	default: // Month
		t := time.Unix(sec, 0).UTC()
		first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return first.Unix(), first.AddDate(0, 1, 0).Unix()
	}
}

// mod is the floored modulus, correct for negative a.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
