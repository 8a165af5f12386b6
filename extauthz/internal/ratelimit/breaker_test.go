package ratelimit

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	// Each op is "allow" (want the answer), "ok"/"fail" (record, want the
	// transition), "abandon", or "wait" (advance the clock).
	type op struct {
		do    string
		allow bool
		tr    transition
		wait  time.Duration
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"closed lets calls through", []op{
			{do: "allow", allow: true}, {do: "fail"}, {do: "allow", allow: true}, {do: "fail"},
			{do: "allow", allow: true}, {do: "ok"}, {do: "allow", allow: true},
		}},
		{"success resets the consecutive count", []op{
			{do: "fail"}, {do: "fail"}, {do: "ok"}, {do: "fail"}, {do: "fail"}, {do: "allow", allow: true},
		}},
		{"third consecutive failure opens for the cooldown", []op{
			{do: "fail"}, {do: "fail"}, {do: "fail", tr: opened}, {do: "allow", allow: false},
			{do: "wait", wait: time.Second - time.Nanosecond}, {do: "allow", allow: false},
		}},
		{"after the cooldown one probe at a time", []op{
			{do: "fail"}, {do: "fail"}, {do: "fail", tr: opened}, {do: "wait", wait: time.Second},
			{do: "allow", allow: true}, {do: "allow", allow: false}, {do: "ok", tr: closed},
			{do: "allow", allow: true}, {do: "allow", allow: true},
		}},
		{"a failed probe opens again", []op{
			{do: "fail"}, {do: "fail"}, {do: "fail", tr: opened}, {do: "wait", wait: time.Second},
			{do: "allow", allow: true}, {do: "fail"}, {do: "allow", allow: false},
			{do: "wait", wait: time.Second}, {do: "allow", allow: true},
		}},
		{"an abandoned probe frees the probe slot", []op{
			{do: "fail"}, {do: "fail"}, {do: "fail", tr: opened}, {do: "wait", wait: time.Second},
			{do: "allow", allow: true}, {do: "abandon"}, {do: "allow", allow: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			b := newBreaker(3, time.Second, clock.Now)
			for i, o := range tc.ops {
				switch o.do {
				case "allow":
					if got := b.allow(); got != o.allow {
						t.Fatalf("op %d: allow() = %v, want %v", i, got, o.allow)
					}
				case "ok", "fail":
					if got := b.record(o.do == "ok"); got != o.tr {
						t.Fatalf("op %d: record(%s) = %v, want %v", i, o.do, got, o.tr)
					}
				case "abandon":
					b.abandon()
				case "wait":
					clock.Advance(o.wait)
				}
			}
		})
	}
}
