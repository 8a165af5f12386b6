package ratelimit

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Cardinality caps of torchgate_quota_used_ratio.
const (
	// quotaRatioTop is the number of (client, window) series exported with
	// their client id; the rest collapse into client_id="other".
	quotaRatioTop = 50
	// quotaRatioCap bounds the pairs remembered between scrapes.
	quotaRatioCap = 1024
)

// quotaRatio is the collector of torchgate_quota_used_ratio: the used share
// of each client's current quota windows, capped in cardinality. It keeps the
// latest ratio per (client, window) for at most quotaRatioCap pairs; when
// full, a new pair replaces the remembered pair with the lowest ratio (or one
// whose window has ended) if its own ratio is higher. Collect exports the
// quotaRatioTop highest ratios and, per window, the highest of the rest as
// client_id="other".
type quotaRatio struct {
	desc *prometheus.Desc
	now  func() time.Time
	mu   sync.Mutex
	// pairs, floor and soonest are guarded by mu.
	pairs map[quotaPair]quotaUse
	// floor is at most the lowest remembered ratio while pairs is full: a
	// newcomer at or below it is dropped without a scan, so a full map
	// costs a scan only when a newcomer may beat a remembered pair.
	floor float64
	// soonest is at most the earliest window end of a remembered pair; once
	// it has passed, a newcomer scans for ended windows.
	soonest time.Time
}

var _ prometheus.Collector = (*quotaRatio)(nil)

type quotaPair struct {
	client string
	window string
}

type quotaUse struct {
	ratio float64
	end   time.Time // when the window ends and the ratio means nothing
}

func newQuotaRatio(now func() time.Time) *quotaRatio {
	return &quotaRatio{
		desc: prometheus.NewDesc("torchgate_quota_used_ratio",
			"Share of the current quota window used, for the clients closest to their quota (top 50; the rest as client_id=\"other\").",
			[]string{"client_id", "window"}, nil),
		now:   now,
		pairs: make(map[quotaPair]quotaUse),
	}
}

// set records the quota policy state p of client, observed at now.
func (q *quotaRatio) set(client string, p PolicyState, now time.Time) {
	use := quotaUse{
		ratio: float64(p.Quota-p.Remaining) / float64(p.Quota),
		end:   now.Add(p.Reset),
	}
	key := quotaPair{client: client, window: p.Name}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pairs[key]; ok || len(q.pairs) < quotaRatioCap {
		q.pairs[key] = use
		q.floor = min(q.floor, use.ratio)
		if q.soonest.IsZero() || use.end.Before(q.soonest) {
			q.soonest = use.end
		}
		return
	}
	if use.ratio <= q.floor && now.Before(q.soonest) {
		return
	}
	// One pass finds the victim (an ended window, else the lowest ratio),
	// the lowest ratio of the others and the soonest window end.
	victim, lowest, rest, soonest := quotaPair{}, math.Inf(1), math.Inf(1), use.end
	for k, u := range q.pairs {
		r := u.ratio
		if !u.end.After(now) {
			r = -1
		}
		if r < lowest {
			victim, lowest, rest = k, r, min(rest, lowest)
		} else {
			rest = min(rest, r)
		}
		if u.end.Before(soonest) {
			soonest = u.end
		}
	}
	q.soonest = soonest
	if use.ratio <= lowest {
		q.floor = lowest
		return
	}
	delete(q.pairs, victim)
	q.pairs[key] = use
	q.floor = min(rest, use.ratio)
}

// Describe implements prometheus.Collector.
func (q *quotaRatio) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.desc
}

// Collect implements prometheus.Collector. It forgets ended windows.
func (q *quotaRatio) Collect(ch chan<- prometheus.Metric) {
	type row struct {
		quotaPair
		ratio float64
	}
	now := q.now()
	q.mu.Lock()
	rows := make([]row, 0, len(q.pairs))
	for k, u := range q.pairs {
		if !u.end.After(now) {
			delete(q.pairs, k)
			continue
		}
		rows = append(rows, row{k, u.ratio})
	}
	q.mu.Unlock()

	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(b.ratio, a.ratio),
			strings.Compare(a.client, b.client), strings.Compare(a.window, b.window))
	})
	other := map[string]float64{}
	for i, r := range rows {
		if i < quotaRatioTop {
			ch <- q.metric(r.ratio, r.client, r.window)
			continue
		}
		if v, ok := other[r.window]; !ok || r.ratio > v {
			other[r.window] = r.ratio
		}
	}
	for w, v := range other {
		ch <- q.metric(v, "other", w)
	}
}

// metric builds one sample. Label values must be UTF-8, so invalid bytes of
// a client id become U+FFFD.
func (q *quotaRatio) metric(v float64, client, window string) prometheus.Metric {
	client = strings.ToValidUTF8(client, "\uFFFD")
	m, err := prometheus.NewConstMetric(q.desc, prometheus.GaugeValue, v, client, window)
	if err != nil {
		return prometheus.NewInvalidMetric(q.desc, err)
	}
	return m
}
