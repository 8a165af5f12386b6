package ratelimit

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// resultError is the result label of a decision that failed.
const resultError = "error"

// decisionMetrics counts decisions and tracks quota use; every limiter that
// decides for callers has one.
type decisionMetrics struct {
	decisions *prometheus.CounterVec
	quotas    *quotaRatio
}

func newDecisionMetrics(reg prometheus.Registerer, log *slog.Logger, now func() time.Time) *decisionMetrics {
	return &decisionMetrics{
		decisions: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "torchgate_ratelimit_decisions_total",
			Help: "Rate limit decisions by tier and result (allowed, rate_limited, quota_exceeded, error).",
		}, []string{"tier", "result"})),
		quotas: register(reg, log, newQuotaRatio(now)),
	}
}

// observe records one decision; err != nil counts as result "error".
func (m *decisionMetrics) observe(r Request, res Result, err error) {
	tier := ""
	if r.Tier != nil {
		tier = r.Tier.Name
	}
	switch {
	case err != nil:
		m.decisions.WithLabelValues(tier, resultError).Inc()
		return
	case res.Allowed:
		m.decisions.WithLabelValues(tier, "allowed").Inc()
	default:
		m.decisions.WithLabelValues(tier, res.Reason).Inc()
	}
	if len(res.Policies) < 2 {
		return
	}
	now := m.quotas.now()
	for _, p := range res.Policies[1:] {
		m.quotas.set(r.ClientID, p, now)
	}
}

// redisMetrics describe the Redis limiter's own health.
type redisMetrics struct {
	degraded prometheus.Gauge
	errors   prometheus.Counter
	duration prometheus.Histogram
}

func newRedisMetrics(reg prometheus.Registerer, log *slog.Logger) *redisMetrics {
	return &redisMetrics{
		degraded: register(reg, log, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "torchgate_ratelimit_degraded",
			Help: "1 while rate limit decisions bypass Redis (local fallback or deny), else 0.",
		})),
		errors: register(reg, log, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "torchgate_redis_errors_total",
			Help: "Rate limit script calls to Redis that failed or timed out.",
		})),
		duration: register(reg, log, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "torchgate_redis_duration_seconds",
			Help:    "Latency of rate limit script calls to Redis.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .02, .05, .1},
		})),
	}
}

// register registers c on reg and returns the collector to use: c, or an
// identical collector registered before (several limiters may share a
// registry). A registration failure is logged; c then works unexported.
func register[C prometheus.Collector](reg prometheus.Registerer, log *slog.Logger, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Warn("ratelimit: metric not registered", slog.Any("error", err))
	return c
}
