package serve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/torchgate/torchgate/worker/internal/batch"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes = 64 << 20
	DefaultMaxClients   = 100
)

// DefaultTrustedPeers are the peers trusted when Options.TrustedPeers is nil: loopback.
var DefaultTrustedPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}

// Options configures a Server. The zero value of each field means its default.
type Options struct {
	// MaxBodyBytes limits a REST request body (413 beyond) and a gRPC message; default 64 MiB.
	MaxBodyBytes int64
	// TrustedPeers are the networks whose x-torchgate-* headers are believed (Envoy);
	// nil means DefaultTrustedPeers.
	TrustedPeers []netip.Prefix
	// TrustedClientNames trust, wherever they connect from, peers presenting a client
	// certificate that the TLS listener verified and that names one of them (subject CN,
	// DNS or URI SAN): Envoy with mTLS.
	TrustedClientNames []string
	// RejectUntrusted answers 403 to identity headers from other peers; false ignores
	// them (the request runs as anonymous at priority 0).
	RejectUntrusted bool
	// MaxClients caps the client_id label values of the per-client counter: the busiest
	// clients get a series, the rest count as "other"; default 100.
	MaxClients int
	// AgingStep is the wait that raises a request's priority by one; default 100ms.
	AgingStep time.Duration
	// Registry receives the metrics and is served at /metrics; nil makes a new one.
	Registry *prometheus.Registry
	// Logger receives errors the client is not told about; nil discards them.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Server serves model versions over the Open Inference Protocol (REST: Handler, gRPC:
// GRPC). It is safe for concurrent use.
type Server struct {
	opts    Options
	models  map[string]*servedModel
	metrics *metrics
	ready   atomic.Bool
}

// servedModel holds a model's versions.
type servedModel struct {
	name     string
	versions map[string]*version
	numbers  []string // ascending
	latest   *version
}

// New starts a batcher for every model version and returns a ready Server.
func New(opts Options, versions []ModelVersion) (*Server, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.TrustedPeers == nil {
		opts.TrustedPeers = DefaultTrustedPeers
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newMetrics(opts.Registry, opts.MaxClients)
	if err != nil {
		return nil, fmt.Errorf("serve: metrics: %w", err)
	}
	s := &Server{opts: opts, models: map[string]*servedModel{}, metrics: m}
	slices.SortFunc(versions, func(a, b ModelVersion) int { return cmp.Compare(a.Version, b.Version) })
	for _, mv := range versions {
		v, err := newVersion(mv)
		if err != nil {
			s.closeBatchers(context.Background())
			return nil, err
		}
		sm := s.models[mv.Name]
		if sm == nil {
			sm = &servedModel{name: mv.Name, versions: map[string]*version{}}
			s.models[mv.Name] = sm
		}
		if sm.versions[v.number] != nil {
			s.closeBatchers(context.Background())
			return nil, fmt.Errorf("serve: model %s version %s given twice", mv.Name, v.number)
		}
		v.obs = m.forVersion(v.model, v.number)
		instances := make([]batch.Model, len(mv.Instances))
		for i, inst := range mv.Instances {
			instances[i] = inst
		}
		v.batcher = batch.New(batch.Config{
			MaxBatchSize:        v.cfg.MaxBatchSize,
			PreferredBatchSizes: v.cfg.PreferredBatchSizes,
			MaxQueueDelay:       v.cfg.MaxQueueDelay,
			MaxQueueSize:        v.cfg.MaxQueueSize,
			AgingStep:           opts.AgingStep,
			Now:                 opts.Now,
			Observer:            v.obs,
		}, instances)
		sm.versions[v.number] = v
		sm.numbers = append(sm.numbers, v.number)
		sm.latest = v
	}
	s.ready.Store(true)
	return s, nil
}

// SetReady sets readiness; a server shutting down sets false first, so load balancers
// stop sending before the listeners close.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Ready reports readiness.
func (s *Server) Ready() bool { return s.ready.Load() }

// Close marks the server not ready and finishes every queued request (see batch.Close);
// call it after the listeners stopped accepting.
func (s *Server) Close(ctx context.Context) error {
	s.SetReady(false)
	return s.closeBatchers(ctx)
}

// closeBatchers closes every started batcher.
func (s *Server) closeBatchers(ctx context.Context) error {
	var errs []error
	for _, sm := range s.models {
		for _, v := range sm.versions {
			if v.batcher != nil {
				errs = append(errs, v.batcher.Close(ctx))
			}
		}
	}
	return errors.Join(errs...)
}

// lookup resolves a model and version ("" for the latest).
func (s *Server) lookup(model, ver string) (*servedModel, *version, error) {
	sm := s.models[model]
	if sm == nil {
		return nil, nil, ErrNotFound.withDetail("unknown model %q", model)
	}
	if ver == "" {
		return sm, sm.latest, nil
	}
	v := sm.versions[ver]
	if v == nil {
		return nil, nil, ErrNotFound.withDetail("model %q has no version %q (versions: %v)", model, ver, sm.numbers)
	}
	return sm, v, nil
}

// serveInfer resolves the model, runs the request and records metrics; both protocols
// call it. The error is an *Error.
func (s *Server) serveInfer(ctx context.Context, model, ver string, req *inferRequest, id identity) (*version, []output, error) {
	start := s.opts.Now()
	_, v, err := s.lookup(model, ver)
	if err != nil {
		s.metrics.failure.WithLabelValues("", "", ErrNotFound.Reason).Inc()
		return nil, nil, err
	}
	s.metrics.clientCounts.Inc(id.client, v.model)
	outs, err := s.infer(ctx, v, req, id)
	v.obs.requestDur.Observe(s.opts.Now().Sub(start).Seconds())
	if err != nil {
		e := toError(err)
		s.metrics.failure.WithLabelValues(v.model, v.number, e.Reason).Inc()
		if e.Reason == ErrInternal.Reason {
			s.opts.Logger.Error("inference failed", "model", v.model, "version", v.number, "error", err)
		}
		return v, nil, e
	}
	v.obs.success.Inc()
	return v, outs, nil
}

// failed records a request that failed before reaching a model (decoding, trust).
func (s *Server) failed(model string, err *Error) {
	label := ""
	if _, ok := s.models[model]; ok {
		label = model
	}
	s.metrics.failure.WithLabelValues(label, "", err.Reason).Inc()
}

// retryAfter is the Retry-After value for a full queue, in seconds.
const retryAfter = "1"
