// Package clientmetrics counts per-client events as Prometheus counters while keeping the
// number of series bounded: the busiest clients get a series of their own, everybody else is
// summed under client_id="other".
//
// Client ids come from tokens, so an attacker who can mint ids (or a busy multi-tenant issuer)
// must not be able to grow the metric set without bound. Counting works like this:
//
//   - Every event is counted in "other" until its client is promoted.
//   - Candidates are tracked with the space-saving algorithm in a table of fixed size, so the
//     heaviest clients are always among them.
//   - At each scrape, the heaviest candidates are promoted into free named slots (at most Max).
//     Promotion is permanent for the process life, and a promoted client's series counts from
//     its promotion on, so both its series and "other" only ever increase, as counters must.
//
// A Counter is safe for concurrent use.
package clientmetrics

import (
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Other is the client_id label value of every client without a series of its own.
const Other = "other"

// candidateFactor sizes the candidate table relative to the number of named series.
const candidateFactor = 8

// Counter is a per-client counter vector with bounded cardinality. The extra labels (for
// example the model) are fixed per Counter instance's label names and given on each Inc.
type Counter struct {
	desc  *prometheus.Desc
	max   int
	extra int // number of labels after client_id

	mu         sync.Mutex
	named      map[string]*namedSeries // by client id; guarded by mu
	other      map[string]float64      // by joined extra label values; guarded by mu
	candidates map[string]uint64       // space-saving estimates; guarded by mu
}

type namedSeries struct {
	counts map[string]float64 // by joined extra label values
}

// New returns a Counter exporting name with labels client_id plus extraLabels, with at most max
// named clients.
func New(name, help string, max int, extraLabels ...string) *Counter {
	if max < 0 {
		max = 0
	}
	return &Counter{
		desc:       prometheus.NewDesc(name, help, append([]string{"client_id"}, extraLabels...), nil),
		max:        max,
		extra:      len(extraLabels),
		named:      make(map[string]*namedSeries),
		other:      make(map[string]float64),
		candidates: make(map[string]uint64),
	}
}

// Inc counts one event for client. extra gives the values of the extra labels, in order.
func (c *Counter) Inc(client string, extra ...string) {
	c.Add(client, 1, extra...)
}

// Add counts n events for client.
func (c *Counter) Add(client string, n float64, extra ...string) {
	key := joinLabels(extra)
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.named[client]; ok {
		s.counts[key] += n
		return
	}
	c.other[key] += n
	if len(c.named) < c.max {
		c.observeLocked(client, uint64(n))
	}
}

// observeLocked updates the space-saving candidate table. c.mu must be held.
func (c *Counter) observeLocked(client string, n uint64) {
	if n == 0 {
		n = 1
	}
	if _, ok := c.candidates[client]; ok || len(c.candidates) < c.max*candidateFactor {
		c.candidates[client] += n
		return
	}
	// Replace the smallest candidate, inheriting its count (the algorithm's overestimate).
	minID, minN := "", uint64(0)
	for id, cnt := range c.candidates {
		if minID == "" || cnt < minN {
			minID, minN = id, cnt
		}
	}
	delete(c.candidates, minID)
	c.candidates[client] = minN + n
}

// promoteLocked moves the heaviest candidates into free named slots. c.mu must be held.
func (c *Counter) promoteLocked() {
	free := c.max - len(c.named)
	if free <= 0 || len(c.candidates) == 0 {
		return
	}
	ids := make([]string, 0, len(c.candidates))
	for id := range c.candidates {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if c.candidates[ids[i]] != c.candidates[ids[j]] {
			return c.candidates[ids[i]] > c.candidates[ids[j]]
		}
		return ids[i] < ids[j]
	})
	for _, id := range ids[:min(free, len(ids))] {
		c.named[id] = &namedSeries{counts: make(map[string]float64)}
		delete(c.candidates, id)
	}
	if len(c.named) >= c.max {
		clear(c.candidates)
	}
}

// Describe implements prometheus.Collector.
func (c *Counter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. It promotes candidates, then emits every series.
func (c *Counter) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.promoteLocked()
	for id, s := range c.named {
		for key, v := range s.counts {
			c.emit(ch, v, id, key)
		}
	}
	for key, v := range c.other {
		c.emit(ch, v, Other, key)
	}
}

// emit sends one series; a label value Prometheus refuses (invalid UTF-8) is skipped rather
// than allowed to panic the scrape.
func (c *Counter) emit(ch chan<- prometheus.Metric, v float64, client, key string) {
	if m, err := prometheus.NewConstMetric(c.desc, prometheus.CounterValue, v, c.labels(client, key)...); err == nil {
		ch <- m
	}
}

func (c *Counter) labels(client, key string) []string {
	out := make([]string, 0, 1+c.extra)
	out = append(out, client)
	if c.extra > 0 {
		out = append(out, splitLabels(key, c.extra)...)
	}
	return out
}

// labelSep joins extra label values into map keys; it is not valid UTF-8, so it cannot occur
// inside a label value Prometheus accepts.
const labelSep = "\xff"

func joinLabels(v []string) string {
	switch len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	}
	n := len(v) - 1
	for _, s := range v {
		n += len(s)
	}
	b := make([]byte, 0, n)
	for i, s := range v {
		if i > 0 {
			b = append(b, labelSep...)
		}
		b = append(b, s...)
	}
	return string(b)
}

func splitLabels(key string, n int) []string {
	return strings.SplitN(key, labelSep, n)
}
