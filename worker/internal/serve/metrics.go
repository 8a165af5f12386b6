package serve

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/torchgate/torchgate/clientmetrics"
)

// metrics are the server's Prometheus series; names follow Triton's nv_inference_* with
// the torchgate_ prefix.
type metrics struct {
	success      *prometheus.CounterVec   // model, version
	failure      *prometheus.CounterVec   // model, version, reason
	items        *prometheus.CounterVec   // model, version
	execs        *prometheus.CounterVec   // model, version
	requestDur   *prometheus.HistogramVec // model, version
	queueDur     *prometheus.HistogramVec // model, version
	computeDur   *prometheus.HistogramVec // model, version
	batchSize    *prometheus.HistogramVec // model, version
	queueDepth   *prometheus.GaugeVec     // model, version
	clientCounts *clientmetrics.Counter   // client_id, model
}

// newMetrics registers the series with reg.
func newMetrics(reg prometheus.Registerer, maxClients int) (*metrics, error) {
	mv := []string{"model", "version"}
	latency := prometheus.ExponentialBuckets(50e-6, 2, 18) // 50µs .. ~6.5s
	m := &metrics{
		success: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "torchgate_inference_request_success_total",
			Help: "Inference requests answered successfully."}, mv),
		failure: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "torchgate_inference_request_failure_total",
			Help: "Inference requests that failed, by reason."}, append(mv, "reason")),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "torchgate_inference_count_total",
			Help: "Inferences performed (items: a batch of n counts n)."}, mv),
		execs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "torchgate_inference_exec_count_total",
			Help: "Model executions (batches) performed."}, mv),
		requestDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "torchgate_inference_request_duration_seconds",
			Help: "Time from receiving a decoded request to its response, successful or not.", Buckets: latency}, mv),
		queueDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "torchgate_inference_queue_duration_seconds",
			Help: "Time requests waited in the batch queue.", Buckets: latency}, mv),
		computeDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "torchgate_inference_compute_duration_seconds",
			Help: "Time of one model execution (a batch).", Buckets: latency}, mv),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "torchgate_inference_batch_size",
			Help: "Items per model execution.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}, mv),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "torchgate_inference_queue_depth",
			Help: "Requests waiting in the batch queue."}, mv),
		clientCounts: clientmetrics.New("torchgate_inference_client_requests_total",
			"Inference requests per client (the busiest max-clients clients by name, the rest as \"other\") and model.",
			maxClients, "model"),
	}
	for _, c := range []prometheus.Collector{m.success, m.failure, m.items, m.execs, m.requestDur,
		m.queueDur, m.computeDur, m.batchSize, m.queueDepth, m.clientCounts} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// versionMetrics are one model version's series, curried once; it implements
// batch.Observer.
type versionMetrics struct {
	success    prometheus.Counter
	items      prometheus.Counter
	execs      prometheus.Counter
	requestDur prometheus.Observer
	queueDur   prometheus.Observer
	computeDur prometheus.Observer
	batchSize  prometheus.Observer
	queueDepth prometheus.Gauge
}

// forVersion returns the series of one model version.
func (m *metrics) forVersion(model, version string) *versionMetrics {
	return &versionMetrics{
		success:    m.success.WithLabelValues(model, version),
		items:      m.items.WithLabelValues(model, version),
		execs:      m.execs.WithLabelValues(model, version),
		requestDur: m.requestDur.WithLabelValues(model, version),
		queueDur:   m.queueDur.WithLabelValues(model, version),
		computeDur: m.computeDur.WithLabelValues(model, version),
		batchSize:  m.batchSize.WithLabelValues(model, version),
		queueDepth: m.queueDepth.WithLabelValues(model, version),
	}
}

// QueueDepth implements batch.Observer.
func (vm *versionMetrics) QueueDepth(n int) { vm.queueDepth.Set(float64(n)) }

// Dequeued implements batch.Observer.
func (vm *versionMetrics) Dequeued(wait time.Duration) { vm.queueDur.Observe(wait.Seconds()) }

// Executed implements batch.Observer.
func (vm *versionMetrics) Executed(items int, compute time.Duration) {
	vm.items.Add(float64(items))
	vm.execs.Inc()
	vm.batchSize.Observe(float64(items))
	vm.computeDur.Observe(compute.Seconds())
}
