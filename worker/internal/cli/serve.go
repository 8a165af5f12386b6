package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/torchgate/torchgate/worker/internal/serve"
	"github.com/torchgate/torchgate/worker/internal/telemetry"
)

// serveFlags are the parsed flags of worker serve.
type serveFlags struct {
	repo, httpAddr, grpcAddr   string
	dev                        device
	trusted                    []netip.Prefix
	trustedNames               []string
	rejectUntrusted            bool
	maxBody                    int64
	maxClients                 int
	agingStep, shutdownTimeout time.Duration
	tlsCert, tlsKey, clientCA  string
}

// serveCmd runs `worker serve` until SIGTERM or SIGINT, then shuts down gracefully: not
// ready, stop accepting, finish queued work, exit.
func serveCmd(ctx context.Context, args []string, stderr io.Writer, c *CUDA) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	return runServe(ctx, args, c, logger, nil)
}

// parseServeFlags parses the serve flags.
func parseServeFlags(args []string, c *CUDA) (serveFlags, error) {
	var f serveFlags
	var devFlag string
	var threads int
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.repo, "model-repository", "", "model repository: DIR/<model>/<version>/model.pt, optional DIR/<model>/config.yaml")
	fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8000", "REST listen address (API and /metrics)")
	fs.StringVar(&f.grpcAddr, "grpc", "127.0.0.1:8001", "gRPC listen address")
	addDeviceFlags(fs, c, &devFlag, &threads, "kernel threads per model instance (0: the CPUs shared out among a model's instances)")
	trusted := fs.String("trusted-peers", "127.0.0.1/32,::1/128", "CIDRs whose x-torchgate-* headers are trusted (Envoy)")
	untrusted := fs.String("untrusted-identity", "ignore", "x-torchgate-* headers from other peers: ignore (anonymous) or reject (403)")
	fs.Int64Var(&f.maxBody, "max-body-bytes", serve.DefaultMaxBodyBytes, "largest request body (413 beyond)")
	fs.IntVar(&f.maxClients, "max-clients", serve.DefaultMaxClients, "client_id label values: the busiest clients by name, the rest as \"other\"")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "time to finish queued work on SIGTERM")
	fs.DurationVar(&f.agingStep, "aging-step", 100*time.Millisecond, "queue wait that raises a request's priority by one")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve REST and gRPC over TLS with this certificate (PEM)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the TLS certificate's private key (PEM)")
	fs.StringVar(&f.clientCA, "client-ca", "", "CA bundle (PEM) verifying client certificates, when a client presents one (mTLS from Envoy)")
	trustedNames := fs.String("trusted-client-names", "", "client certificate names (CN, DNS or URI SAN) whose x-torchgate-* headers are trusted")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	case f.repo == "":
		return f, errors.New("serve: --model-repository is required")
	}
	var err error
	if f.dev, err = resolveDevice("serve", devFlag, threads, c); err != nil {
		return f, err
	}
	switch {
	case *untrusted != "ignore" && *untrusted != "reject":
		return f, fmt.Errorf("serve: --untrusted-identity %q is not ignore or reject", *untrusted)
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return f, errors.New("serve: --tls-cert and --tls-key go together")
	case f.clientCA != "" && f.tlsCert == "":
		return f, errors.New("serve: --client-ca needs --tls-cert")
	case *trustedNames != "" && f.clientCA == "":
		return f, errors.New("serve: --trusted-client-names needs --client-ca")
	}
	for _, n := range strings.Split(*trustedNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			f.trustedNames = append(f.trustedNames, n)
		}
	}
	f.rejectUntrusted = *untrusted == "reject"
	for _, s := range strings.Split(*trusted, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return f, fmt.Errorf("serve: --trusted-peers: %w", err)
		}
		f.trusted = append(f.trusted, p.Masked())
	}
	if f.trusted == nil {
		f.trusted = []netip.Prefix{} // trust nobody
	}
	return f, nil
}

// runServe serves until ctx ends. ready, when set, gets the bound addresses once serving.
func runServe(ctx context.Context, args []string, c *CUDA, logger *slog.Logger, ready func(httpAddr, grpcAddr net.Addr)) error {
	f, err := parseServeFlags(args, c)
	if err != nil {
		return err
	}
	versions, models, err := loadRepository(f.repo, f.dev)
	if err != nil {
		return err
	}
	defer closeModels(models)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gpus := telemetry.New(telemetry.Options{Logger: logger})
	defer gpus.Close()
	reg.MustRegister(gpus)
	tlsCfg, err := serverTLS(f)
	if err != nil {
		return err
	}
	srv, err := serve.New(serve.Options{MaxBodyBytes: f.maxBody, TrustedPeers: f.trusted, TrustedClientNames: f.trustedNames,
		RejectUntrusted: f.rejectUntrusted, MaxClients: f.maxClients, AgingStep: f.agingStep, Registry: reg, Logger: logger}, versions)
	if err != nil {
		return err
	}
	hl, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("serve: %w", err), srv.Close(ctx))
	}
	gl, err := net.Listen("tcp", f.grpcAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("serve: %w", err), hl.Close(), srv.Close(ctx))
	}
	gopts := srv.GRPCServerOptions()
	if tlsCfg != nil {
		hl = tls.NewListener(hl, tlsCfg)
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(tlsCfg.Clone())))
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	gs := grpc.NewServer(gopts...)
	srv.RegisterGRPC(gs)
	// grpc.health.v1 for Envoy's and Kubernetes' health checks of the gRPC listener.
	health := grpchealth.NewServer()
	healthpb.RegisterHealthServer(gs, health)
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(hl) }()
	go func() { errc <- gs.Serve(gl) }()
	logger.Info("serving", "http", hl.Addr().String(), "grpc", gl.Addr().String(), "models", len(versions), "device", f.dev.String())
	if ready != nil {
		ready(hl.Addr(), gl.Addr())
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc: // a listener failed
	}
	logger.Info("shutting down")
	health.Shutdown() // NOT_SERVING before anything stops
	return errors.Join(serveErr, shutdown(srv, hs, gs, f.shutdownTimeout))
}

// shutdown stops gracefully: not ready first, then, together, the listeners stop
// accepting while the batchers refuse new work and finish the queued requests, whose
// handlers then answer; past timeout, what is left is cut off.
func shutdown(srv *serve.Server, hs *http.Server, gs *grpc.Server, timeout time.Duration) error {
	srv.SetReady(false)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	var httpErr, closeErr error
	wg.Go(func() { httpErr = hs.Shutdown(ctx) })
	wg.Go(func() { closeErr = srv.Close(ctx) })
	wg.Go(func() {
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			gs.Stop()
			<-stopped
		}
	})
	wg.Wait()
	return errors.Join(httpErr, closeErr)
}
