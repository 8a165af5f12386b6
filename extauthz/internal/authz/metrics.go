package authz

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/torchgate/torchgate/clientmetrics"
)

// Metrics are the decision service's Prometheus series.
type Metrics struct {
	decisions   *prometheus.CounterVec
	duration    prometheus.Histogram
	jwksFetches *prometheus.CounterVec
	clients     *clientmetrics.Counter
}

// NewMetrics creates the series and registers them on reg. maxClients caps the named series of
// the per-client counter.
func NewMetrics(reg prometheus.Registerer, maxClients int) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "torchgate_authz_decisions_total",
			Help: "Authorization decisions by outcome (allow/deny) and machine reason code.",
		}, []string{"decision", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "torchgate_authz_check_duration_seconds",
			Help:    "Time spent deciding one Check, from request to response.",
			Buckets: []float64{5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3},
		}),
		jwksFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "torchgate_authz_jwks_fetches_total",
			Help: "JWKS fetches by issuer and result (ok/error).",
		}, []string{"issuer", "result"}),
		clients: clientmetrics.New("torchgate_authz_client_requests_total",
			"Checks per client id (busiest clients by name, the rest as \"other\") and decision.",
			maxClients, "decision"),
	}
	reg.MustRegister(m.decisions, m.duration, m.jwksFetches, m.clients)
	return m
}

// JWKSFetched counts one JWKS fetch for issuer with result "ok" or "error".
func (m *Metrics) JWKSFetched(issuer, result string) {
	m.jwksFetches.WithLabelValues(issuer, result).Inc()
}

func (m *Metrics) observe(d Decision, seconds float64) {
	outcome := "deny"
	if d.Allowed {
		outcome = "allow"
	}
	m.decisions.WithLabelValues(outcome, d.Reason).Inc()
	m.duration.Observe(seconds)
	if d.Claims != nil {
		m.clients.Inc(d.Claims.ClientID, outcome)
	}
}
