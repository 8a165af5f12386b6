package issuer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/torchgate/torchgate/clientmetrics"
)

// Failure reasons of torchgate_issuer_auth_failures_total.
const (
	failUnknownClient = "unknown_client"
	failBadSecret     = "bad_secret"
	failMethod        = "method_not_allowed"
	failDisabled      = "client_disabled"
	failBadAssertion  = "bad_assertion"
	failReplay        = "replayed_assertion"
	failNoCredentials = "no_credentials"
	failRateLimited   = "rate_limited"
)

// metrics are the issuer's Prometheus series.
type metrics struct {
	authFailures *prometheus.CounterVec
	issued       *clientmetrics.Counter
}

func newMetrics(reg prometheus.Registerer, maxClients int) (*metrics, error) {
	m := &metrics{
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "torchgate_issuer_auth_failures_total",
			Help: "Failed client authentications at the issuer's endpoints, by reason.",
		}, []string{"reason"}),
		issued: clientmetrics.New("torchgate_issuer_tokens_issued_total",
			"Access tokens issued, by client (the busiest clients by name, the rest as other).", maxClients),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.authFailures, m.issued} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("issuer: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}
