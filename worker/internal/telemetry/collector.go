package telemetry

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector for the GPUs of this host. It reads
// NVML on scrape, at most once per Options.Interval, in a goroutine of its
// own, and a scrape waits for it at most Options.Timeout. Its methods may be
// called concurrently.
type Collector struct {
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	timeout  time.Duration
	sampler  sampler
	descs    descs

	workerMemory *prometheus.GaugeVec

	mu sync.Mutex
	// The fields below are guarded by mu.
	initialized bool          // sampler.init succeeded
	initErr     error         // sampler.init failed: no NVML call follows
	closed      bool          // Close was called
	inflight    chan struct{} // closed when the running refresh ends; nil when none runs
	last        reading       // the latest finished refresh
	loggedErr   string        // the error last logged, so each is logged once
}

// reading is the outcome of one refresh.
type reading struct {
	at      time.Time
	ok      bool // NVML answered with at least one GPU, or with no error
	devices []deviceSample
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector and starts its first NVML reading (Init included)
// in the background, so New itself never waits for NVML. The caller registers
// it on a prometheus.Registerer and calls Close at shutdown.
func New(opts Options) *Collector {
	opts = opts.withDefaults()
	c := &Collector{
		log:      opts.Logger,
		now:      opts.Now,
		interval: opts.Interval,
		timeout:  opts.Timeout,
		sampler:  newSampler(opts.NVML),
		descs:    newDescs(opts.Hostname),
		workerMemory: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: workerMemoryName,
			Help: "GPU memory the worker holds on each GPU, as its CUDA backend reports it (in bytes).",
		}, []string{"gpu", "UUID"}),
	}
	c.mu.Lock()
	c.startRefreshLocked()
	c.mu.Unlock()
	return c
}

// SetWorkerMemory records the GPU memory the worker holds on GPU gpu (NVML
// index) with the given UUID. The CUDA backend calls it after its pool grows
// or shrinks; it never touches NVML.
func (c *Collector) SetWorkerMemory(gpu int, uuid string, bytes uint64) {
	c.workerMemory.WithLabelValues(strconv.Itoa(gpu), uuid).Set(float64(bytes))
}

// Describe sends the descriptors of every family the Collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.descs.describe(ch)
	c.workerMemory.Describe(ch)
}

// Collect sends the GPU series of a reading at most Options.Interval old,
// waiting at most Options.Timeout for a new one, then
// torchgate_gpu_telemetry_available and the worker's own memory.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	available := 0.0
	if r, ok := c.current(); ok {
		available = 1
		for i := range r.devices {
			r.devices[i].collect(&c.descs, ch)
		}
	}
	ch <- constMetric(c.descs.available, prometheus.GaugeValue, available)
	c.workerMemory.Collect(ch)
}

// Close stops reading and calls nvml.Shutdown if Init succeeded. When a
// reading is still running (NVML hangs), Close returns at once and that
// reading shuts NVML down when it ends. Close may be called more than once.
func (c *Collector) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	shutdown := c.inflight == nil && c.initialized
	c.mu.Unlock()
	if shutdown {
		return c.sampler.shutdown()
	}
	return nil
}

// current returns a reading no older than the interval, refreshing it if
// needed, and whether it may be exported.
func (c *Collector) current() (reading, bool) {
	c.mu.Lock()
	if c.closed || c.initErr != nil {
		c.mu.Unlock()
		return reading{}, false
	}
	if c.inflight == nil && !c.last.at.IsZero() && c.now().Sub(c.last.at) < c.interval {
		r := c.last
		c.mu.Unlock()
		return r, r.ok
	}
	done := c.inflight
	if done == nil {
		done = c.startRefreshLocked()
	}
	c.mu.Unlock()

	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		c.mu.Lock()
		c.logLocked(ErrTimeout)
		c.mu.Unlock()
		return reading{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.last.ok && !c.closed && c.initErr == nil
}

// startRefreshLocked starts a refresh and returns the channel it closes when
// done. c.mu must be held and no refresh may be running.
func (c *Collector) startRefreshLocked() chan struct{} {
	done := make(chan struct{})
	c.inflight = done
	go c.refresh(done, !c.initialized)
	return done
}

// refresh reads NVML once (initialising it first when needInit), stores the
// reading and closes done. It is the only goroutine that calls the sampler
// while it runs, and it shuts NVML down if Close came while it ran.
func (c *Collector) refresh(done chan struct{}, needInit bool) {
	var initErr, err error
	var r reading
	if needInit {
		initErr = c.sampler.init()
	}
	if initErr == nil {
		r.devices, err = c.sampler.sample()
		r.ok = err == nil || len(r.devices) > 0
	}
	r.at = c.now()

	c.mu.Lock()
	c.inflight = nil
	if needInit && initErr == nil {
		c.initialized = true
	}
	switch {
	case initErr != nil:
		c.initErr = initErr
		c.logLocked(initErr)
	case err != nil:
		c.logLocked(err)
	default:
		c.loggedErr = ""
	}
	c.last = r
	shutdown := c.closed && c.initialized
	c.mu.Unlock()
	close(done)

	if shutdown {
		if err := c.sampler.shutdown(); err != nil {
			c.log.Warn("gpu telemetry shutdown failed", slog.Any("error", err))
		}
	}
}

// logLocked logs err unless it is the error logged last. c.mu must be held.
func (c *Collector) logLocked(err error) {
	msg := err.Error()
	if msg == c.loggedErr {
		return
	}
	c.loggedErr = msg
	c.log.Warn("gpu telemetry unavailable or incomplete", slog.Any("error", err))
}
