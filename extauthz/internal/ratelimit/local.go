package ratelimit

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LocalOptions configures a Local limiter. The zero value is valid.
type LocalOptions struct {
	// Replicas divides every limit: the rate exactly, burst and quota
	// limits rounded up. Values below 1 mean 1.
	Replicas int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Registerer receives torchgate_ratelimit_decisions_total and
	// torchgate_quota_used_ratio; nil means not registered.
	Registerer prometheus.Registerer
	// Logger reports metric registration problems; nil means slog.Default().
	Logger *slog.Logger
}

// Local is an in-process limiter: GCRA and calendar quotas in memory. It is
// exact for a single replica and approximate (limits divided by Replicas) as
// the fallback of Redis. Idle clients are forgotten once their burst is full
// and their quota windows have ended, so memory follows the active clients.
type Local struct {
	replicas int64
	now      func() time.Time
	metrics  *decisionMetrics // nil in the fallback of Redis, which counts itself
	seed     maphash.Seed
	shards   [localShards]localShard
}

var _ Limiter = (*Local)(nil)

// localShards spreads clients over independently locked maps.
const localShards = 64

// minSweep is the smallest client count of a shard that triggers a sweep.
const minSweep = 1024

type localShard struct {
	mu sync.Mutex
	// clients and sweepAt are guarded by mu.
	clients map[string]*localState
	sweepAt int
}

// localState is one client's state.
type localState struct {
	tat     int64
	windows [numWindows]windowCount // indexed by Window.index
}

// windowCount is the usage of one calendar window.
type windowCount struct {
	start, end int64 // Unix seconds
	used       int64
}

// NewLocal returns an in-process limiter.
func NewLocal(opts LocalOptions) *Local {
	l := newLocal(opts.Replicas, opts.Now)
	l.metrics = newDecisionMetrics(opts.Registerer, loggerOr(opts.Logger), l.now)
	return l
}

func newLocal(replicas int, now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	l := &Local{replicas: int64(max(1, replicas)), now: now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].clients = make(map[string]*localState)
		l.shards[i].sweepAt = minSweep
	}
	return l
}

// Allow decides r in memory. It fails only for an invalid request.
func (l *Local) Allow(_ context.Context, r Request) (Result, error) {
	if err := r.validate(); err != nil {
		l.metrics.observe(r, Result{}, err)
		return Result{}, err
	}
	res := l.decide(r)
	l.metrics.observe(r, res, nil)
	return res, nil
}

// decide decides a validated request and consumes its cost when allowed.
func (l *Local) decide(r Request) Result {
	t := r.Tier
	if l.replicas > 1 {
		t = divide(t, l.replicas)
	}
	now := l.now().UnixMicro()
	sec := floorDiv(now, micros)

	sh := &l.shards[maphash.String(l.seed, r.ClientID)%localShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.clients[r.ClientID]
	if st == nil {
		sh.sweep(sec, now)
		st = &localState{}
		sh.clients[r.ClientID] = st
	}
	var usedBuf [numWindows]int64
	used := usedBuf[:len(t.Quotas)]
	for i, q := range t.Quotas {
		w := &st.windows[q.Window.index()]
		if start, end := q.Window.span(sec); w.start != start {
			*w = windowCount{start: start, end: end}
		}
		used[i] = w.used
	}
	res, newTAT := decide(now, t, r.Cost, state{tat: st.tat, used: used})
	if res.Allowed {
		st.tat = newTAT
		for _, q := range t.Quotas {
			st.windows[q.Window.index()].used += r.Cost
		}
	}
	return res
}

// sweep forgets idle clients when the shard has grown past sweepAt.
// sh.mu must be held.
func (sh *localShard) sweep(sec, now int64) {
	if len(sh.clients) < sh.sweepAt {
		return
	}
	for id, st := range sh.clients {
		if st.idle(sec, now) {
			delete(sh.clients, id)
		}
	}
	sh.sweepAt = max(minSweep, 2*len(sh.clients))
}

// idle reports whether forgetting the client changes no future decision.
func (st *localState) idle(sec, now int64) bool {
	if st.tat > now {
		return false
	}
	for _, w := range st.windows {
		if w.used > 0 && w.end > sec {
			return false
		}
	}
	return true
}

// divide returns t's limits for one of n replicas.
func divide(t *Tier, n int64) *Tier {
	d := *t
	d.Rate = t.Rate / float64(n)
	d.Burst = ceilDiv(t.Burst, n)
	d.Quotas = make([]Quota, len(t.Quotas))
	for i, q := range t.Quotas {
		d.Quotas[i] = Quota{Window: q.Window, Limit: ceilDiv(q.Limit, n)}
	}
	return &d
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
