// Package demo runs the whole torchgate stack on one machine without Docker or Envoy — a real
// redis-server when one is installed (else the in-process limiter), extauthz with the built-in
// issuer, the worker on the CPU with the bundled model, and the dev edge on the project's
// envoy.yaml — and walks the story a user meets: get a token, infer, and every way a request
// is refused. `make demo` prints the story; the end-to-end test asserts it.
package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// Options describe where the stack's pieces come from.
type Options struct {
	// Root is the repository root (envoy/envoy.yaml, deploy/models).
	Root string
	// Bin holds the extauthz and worker binaries (see Build).
	Bin string
	// Dir is a scratch directory for configs, keys, registry and logs.
	Dir string
	// NoRedis uses the in-process limiter even when redis-server is installed.
	NoRedis bool
	// WorkerProxy, when set, is put between the edge and the worker: it receives the worker's
	// address and returns the address the edge should use instead (tests record headers there).
	WorkerProxy func(workerAddr string) string
	// Log receives the processes' output; nil discards it.
	Log io.Writer
}

// Stack is a running stack. Stop ends every process it started.
type Stack struct {
	opts        Options
	redis       *redistest.Server
	procs       []*exec.Cmd
	EdgeURL     string // the policy edge, where clients send everything
	AuthzHTTP   string // extauthz's HTTP listener (metrics), for operators
	ConfigPath  string // extauthz's configuration
	ClientsPath string // the issuer's client registry
	AuditPath   string // extauthz's audit log
	// Clients maps the demo's client ids to their secrets.
	Clients map[string]string
}

// Build compiles the extauthz and worker binaries into bin.
func Build(ctx context.Context, root, bin string) error {
	for _, pkg := range []string{"./extauthz/cmd/extauthz", "./worker/cmd/worker"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(os.PathSeparator), pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("demo: go build %s: %w\n%s", pkg, err, out)
		}
	}
	return nil
}

// Start launches the stack and waits until every piece is ready.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	s := &Stack{opts: o, Clients: map[string]string{}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if !o.NoRedis {
		s.redis, err = redistest.Run(filepath.Join(o.Dir, "redis"))
		if errors.Is(err, redistest.ErrNotInstalled) {
			s.redis, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.registerClients(ctx); err != nil {
		return nil, err
	}
	addr := map[string]string{}
	for _, name := range []string{"grpc", "http", "worker", "worker_grpc", "edge"} {
		if addr[name], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	if err := s.writeConfig(addr["grpc"], addr["http"]); err != nil {
		return nil, err
	}
	s.AuthzHTTP = "http://" + addr["http"]
	s.EdgeURL = "http://" + addr["edge"]

	if err := s.run(ctx, "extauthz", "serve", "--config", s.ConfigPath); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, s.AuthzHTTP+"/readyz"); err != nil {
		return nil, fmt.Errorf("demo: extauthz: %w", err)
	}
	if err := s.run(ctx, "worker", "serve", "--model-repository", filepath.Join(o.Root, "deploy", "models"),
		"--http", addr["worker"], "--grpc", addr["worker_grpc"], "--device", "cpu"); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, "http://"+addr["worker"]+"/v2/health/ready"); err != nil {
		return nil, fmt.Errorf("demo: worker: %w", err)
	}
	workerAddr := addr["worker"]
	if o.WorkerProxy != nil {
		workerAddr = o.WorkerProxy(workerAddr)
	}
	if err := s.run(ctx, "extauthz", "edge", "--envoy", filepath.Join(o.Root, "envoy", "envoy.yaml"),
		"--listen", addr["edge"], "--admin", "off",
		"--cluster", "extauthz_grpc="+addr["grpc"], "--cluster", "extauthz_http="+addr["http"],
		"--cluster", "worker="+workerAddr, "--cluster", "worker_grpc="+addr["worker_grpc"]); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, s.EdgeURL+"/v2/health/ready"); err != nil {
		return nil, fmt.Errorf("demo: edge: %w", err)
	}
	return s, nil
}

// RedisUsed reports whether limits and revocations run on a real redis-server.
func (s *Stack) RedisUsed() bool { return s.redis != nil }

// Stop ends every process the stack started, newest first, and waits for them.
func (s *Stack) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = p.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	s.procs = nil
	if s.redis != nil {
		s.redis.Kill()
	}
}

// registerClients creates the issuer's registry with the real CLI: "demo" may call the MLP on
// the free tier, "other" holds a scope for a different model.
func (s *Stack) registerClients(ctx context.Context) error {
	s.ClientsPath = filepath.Join(s.opts.Dir, "clients.yaml")
	for _, c := range []struct{ id, scopes, tier string }{
		{"demo", "infer:mlp", "free"},
		{"other", "infer:cnn", "free"},
	} {
		secret, err := s.cli(ctx, "clients", "add", "--file", s.ClientsPath, "--id", c.id, "--scopes", c.scopes, "--tier", c.tier)
		if err != nil {
			return err
		}
		s.Clients[c.id] = secret
	}
	return nil
}

// cli runs an extauthz operator command and returns its stdout, trimmed.
func (s *Stack) cli(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(s.opts.Bin, "extauthz"), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("demo: extauthz %s: %w: %s", strings.Join(args[:2], " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

func (s *Stack) writeConfig(grpcAddr, httpAddr string) error {
	s.ConfigPath = filepath.Join(s.opts.Dir, "extauthz.yaml")
	s.AuditPath = filepath.Join(s.opts.Dir, "audit.log")
	redis := ""
	if s.redis != nil {
		redis = fmt.Sprintf("redis: {url: %q}\n", s.redis.URL())
	}
	cfg := fmt.Sprintf(`listen: {grpc: %q, http: %q}
issuer:
  enabled: true
  keys_dir: %q
  clients_file: %q
audit: {path: %q}
default_tier: free
tiers:
  free: {rate: 1, burst: 5, quotas: {day: 1000}, priority: 0}
  pro:  {rate: 200, burst: 400, quotas: {day: 5000000}, priority: 10}
%s`, grpcAddr, httpAddr, filepath.Join(s.opts.Dir, "keys"), s.ClientsPath, s.AuditPath, redis)
	return os.WriteFile(s.ConfigPath, []byte(cfg), 0o600)
}

// run starts a long-running binary from Bin, its output prefixed with its name.
func (s *Stack) run(ctx context.Context, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.opts.Bin, bin), args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if s.opts.Log != nil {
		w := prefixWriter(s.opts.Log, bin+" "+args[0])
		cmd.Stdout, cmd.Stderr = w, w
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("demo: start %s: %w", bin, err)
	}
	s.procs = append(s.procs, cmd)
	return nil
}

// prefixWriter copies lines to w, each prefixed with "[name] ".
func prefixWriter(w io.Writer, name string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(w, "[%s] %s\n", name, sc.Text())
		}
	}()
	return pw
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitHTTP polls url until it answers 200, for at most 30 s.
func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 30s (last error: %v)", url, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
