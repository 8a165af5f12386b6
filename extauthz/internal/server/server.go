// Package server runs the extauthz process: the ext_authz gRPC listener (with gRPC health and
// server reflection), the HTTP listener (/metrics, /healthz, /readyz), configuration reload on
// SIGHUP or file change, and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/torchgate/torchgate/extauthz/internal/audit"
	"github.com/torchgate/torchgate/extauthz/internal/authz"
	"github.com/torchgate/torchgate/extauthz/internal/config"
	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
)

// shutdownGrace bounds how long in-flight requests may take to finish on shutdown.
const shutdownGrace = 10 * time.Second

// Server is one extauthz process. Create it with New, then call Run.
type Server struct {
	path    string
	logger  *slog.Logger
	level   *slog.LevelVar
	reg     *prometheus.Registry
	metrics *authz.Metrics
	audit   *audit.Logger
	service *authz.Service
	health  *health.Server
	sets    *keySets
	caches  *tokenCaches
	limiter ratelimit.Limiter
	redis   redis.UniversalClient // nil without redis.url
	auth    *authState

	ctx context.Context // lives as long as the process; key sets run under it

	mu  sync.Mutex     // serializes reloads
	cfg *config.Config // the active configuration; guarded by mu

	grpcAddr, httpAddr atomic.Value // bound addresses (string), set once listening
	ready              atomic.Bool
}

// New loads the configuration at path and prepares a server that logs JSON lines to logOut at
// the configured level. It binds nothing yet; key sets start fetching under ctx.
func New(ctx context.Context, path string, logOut io.Writer) (*Server, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	level.Set(logLevel(cfg.LogLevel))
	logger := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{ctx: ctx, path: path, logger: logger, level: level, reg: reg, cfg: cfg, health: health.NewServer()}
	s.metrics = authz.NewMetrics(reg, cfg.Metrics.MaxClientSeries)
	s.sets = newKeySets(logger, s.metrics)
	s.caches = newTokenCaches(reg)
	if !cfg.Audit.Disabled {
		w, err := openAudit(cfg.Audit.Path)
		if err != nil {
			return nil, err
		}
		s.audit = audit.New(w, cfg.Audit.Buffer, reg)
	}
	if s.limiter, s.redis, err = newLimiter(cfg.Redis, reg, logger); err != nil {
		return nil, err
	}
	s.auth, err = newAuthState(cfg.Issuer, s.redis, reg, s.audit, logger, cfg.Metrics.MaxClientSeries, s.caches.evict)
	var p *authz.Policy
	if err == nil {
		p, err = buildPolicy(ctx, cfg, s.sets, s.caches, s.limiter, s.auth)
	}
	if err != nil {
		if s.redis != nil {
			_ = s.redis.Close()
		}
		return nil, err
	}
	s.service = authz.NewService(p, authz.Options{Audit: s.audit, Metrics: s.metrics})
	s.setServing(false)
	return s, nil
}

func logLevel(name string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(name)) // validated by config
	return l
}

func openAudit(path string) (*os.File, error) {
	if path == "" || path == "-" {
		return os.Stdout, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return f, nil
}

// Registry is the server's Prometheus registry (later parts register their series on it).
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// GRPCAddr returns the bound gRPC address once Run is listening, else "".
func (s *Server) GRPCAddr() string { v, _ := s.grpcAddr.Load().(string); return v }

// HTTPAddr returns the bound HTTP address once Run is listening, else "".
func (s *Server) HTTPAddr() string { v, _ := s.httpAddr.Load().(string); return v }

// Run serves until ctx is done, reloading the configuration whenever its file changes, then shuts down gracefully: health turns NOT_SERVING, the
// listeners stop accepting, in-flight requests finish (bounded), and the audit log is flushed.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()

	gopts, err := grpcOptions(cfg.Listen.GRPCTLS)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(gopts...)
	s.service.Register(gs)
	healthpb.RegisterHealthServer(gs, s.health)
	reflection.Register(gs)

	gl, err := net.Listen("tcp", cfg.Listen.GRPC)
	if err != nil {
		return fmt.Errorf("grpc listener: %w", err)
	}
	hl, err := net.Listen("tcp", cfg.Listen.HTTP)
	if err != nil {
		gl.Close()
		return fmt.Errorf("http listener: %w", err)
	}
	s.grpcAddr.Store(gl.Addr().String())
	s.httpAddr.Store(hl.Addr().String())
	hs := &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 5 * time.Second}

	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(gl) }()
	go func() {
		if err := hs.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	go s.watchReadiness(ctx)
	s.auth.run(ctx, s.logger)
	go func() {
		if err := s.watchConfig(ctx); err != nil {
			s.logger.Warn("config file watch disabled; reload with SIGHUP", "err", err)
		}
	}()
	s.logger.Info("extauthz listening", "grpc", s.GRPCAddr(), "http", s.HTTPAddr(),
		"grpc_tls", cfg.Listen.GRPCTLS.Enabled())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.shutdown(gs, hs)
	return runErr
}

func (s *Server) shutdown(gs *grpc.Server, hs *http.Server) {
	s.logger.Info("extauthz shutting down")
	s.ready.Store(false)
	s.health.Shutdown()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		gs.Stop()
	}
	_ = hs.Shutdown(sctx)
	s.auth.close()
	if s.audit != nil {
		s.audit.Close()
	}
	if s.redis != nil {
		_ = s.redis.Close()
	}
}

// watchReadiness marks the server ready once every issuer's keys were fetched at least once,
// and keeps gRPC health in step with readiness.
func (s *Server) watchReadiness(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		r := s.sets.ready()
		if r != s.ready.Load() {
			s.ready.Store(r)
			s.setServing(r)
			s.logger.Info("readiness changed", "ready", r)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, st)
}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	if s.cfg.DebugPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.auth.register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready: issuer keys not fetched yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}

// flowWindow is the gRPC server's HTTP/2 flow-control window, per stream and per connection.
const flowWindow = 4 << 20

// streamWorkers is the number of gRPC stream workers per CPU.
const streamWorkers = 32

func grpcOptions(t config.TLS) ([]grpc.ServerOption, error) {
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(authz.Codec{}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(1 << 20),
		// Fixed flow-control windows well above what Checks in flight need: no BDP-estimation
		// PINGs and fewer WINDOW_UPDATE frames per request.
		grpc.InitialWindowSize(flowWindow),
		grpc.InitialConnWindowSize(flowWindow),
		// A pool of stream workers instead of a goroutine per RPC: a worker's stack has grown
		// once, a new goroutine grows (copies) its stack on every Check. grpc-go starts a fresh
		// goroutine whenever no worker is idle, so the pool covers the concurrency Envoy
		// typically drives, not just the CPU count.
		grpc.NumStreamWorkers(uint32(streamWorkers * runtime.GOMAXPROCS(0))),
	}
	if !t.Enabled() {
		return opts, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("grpc tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("grpc tls: client ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("grpc tls: client ca %s: no PEM certificate", t.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return append(opts, grpc.Creds(credentials.NewTLS(tc))), nil
}
