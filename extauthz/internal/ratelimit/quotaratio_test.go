package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const quotaRatioHeader = `
# HELP torchgate_quota_used_ratio Share of the current quota window used, for the clients closest to their quota (top 50; the rest as client_id="other").
# TYPE torchgate_quota_used_ratio gauge
`

func TestQuotaRatioFromDecisions(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	clock := newFakeClock(t0)
	l := NewLocal(LocalOptions{Now: clock.Now, Registerer: reg})
	tier := &Tier{Name: "t", Rate: 1000, Burst: 1000, Quotas: []Quota{{Minute, 4}, {Day, 8}}}
	for _, c := range []struct {
		client string
		n      int
	}{{"a", 1}, {"b", 3}, {"\xffbad", 2}} {
		for range c.n {
			if _, err := l.Allow(context.Background(), Request{ClientID: c.client, Tier: tier, Cost: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := quotaRatioHeader + `
torchgate_quota_used_ratio{client_id="a",window="day"} 0.125
torchgate_quota_used_ratio{client_id="a",window="minute"} 0.25
torchgate_quota_used_ratio{client_id="b",window="day"} 0.375
torchgate_quota_used_ratio{client_id="b",window="minute"} 0.75
torchgate_quota_used_ratio{client_id="�bad",window="day"} 0.25
torchgate_quota_used_ratio{client_id="�bad",window="minute"} 0.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "torchgate_quota_used_ratio"); err != nil {
		t.Fatal(err)
	}
	// When the minute ends, its ratios are dropped.
	clock.Advance(time.Minute)
	want = quotaRatioHeader + `
torchgate_quota_used_ratio{client_id="a",window="day"} 0.125
torchgate_quota_used_ratio{client_id="b",window="day"} 0.375
torchgate_quota_used_ratio{client_id="�bad",window="day"} 0.25
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "torchgate_quota_used_ratio"); err != nil {
		t.Fatal(err)
	}
}

func TestQuotaRatioCaps(t *testing.T) {
	clock := newFakeClock(t0)
	q := newQuotaRatio(clock.Now)
	// quotaRatioCap+100 clients; client i has used i‰ of its day quota.
	for i := range quotaRatioCap + 100 {
		q.set(fmt.Sprintf("c%04d", i), PolicyState{Name: "day", Quota: 10000, Remaining: 10000 - int64(i)*10, Reset: time.Hour}, clock.Now())
	}
	if len(q.pairs) != quotaRatioCap {
		t.Fatalf("%d pairs remembered, cap %d", len(q.pairs), quotaRatioCap)
	}
	// A newcomer below every remembered ratio is not remembered.
	q.set("low", PolicyState{Name: "day", Quota: 10, Remaining: 10, Reset: time.Hour}, clock.Now())
	if _, ok := q.pairs[quotaPair{"low", "day"}]; ok {
		t.Fatal("a lower ratio evicted a higher one")
	}
	var b strings.Builder
	b.WriteString(quotaRatioHeader)
	top := quotaRatioCap + 100 - 1
	for i := top; i > top-quotaRatioTop; i-- {
		fmt.Fprintf(&b, "torchgate_quota_used_ratio{client_id=\"c%04d\",window=\"day\"} %g\n", i, float64(i)/1000)
	}
	fmt.Fprintf(&b, "torchgate_quota_used_ratio{client_id=\"other\",window=\"day\"} %g\n", float64(top-quotaRatioTop)/1000)
	if err := testutil.CollectAndCompare(q, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(q); n != quotaRatioTop+1 {
		t.Fatalf("%d series, want %d", n, quotaRatioTop+1)
	}
	// Pairs whose window has ended make room first.
	clock.Advance(time.Hour)
	q.set("new", PolicyState{Name: "day", Quota: 10, Remaining: 10, Reset: time.Hour}, clock.Now())
	if _, ok := q.pairs[quotaPair{"new", "day"}]; !ok {
		t.Fatal("an ended window did not make room")
	}
}
