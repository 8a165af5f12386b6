package edge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/torchgate/torchgate/extauthz/internal/server"
	"github.com/torchgate/torchgate/extauthz/internal/syncbuf"
	"github.com/torchgate/torchgate/extauthz/internal/testidp"
)

// projectEnvoy is the project's policy edge configuration: the tests run the file as shipped.
const projectEnvoy = "../../../envoy/envoy.yaml"

const extauthzConfig = `
listen: {grpc: 127.0.0.1:0, http: 127.0.0.1:0}
issuers:
  - issuer: %s
    audiences: [torchgate]
audit: {path: %s}
default_tier: free
tiers:
  free: {rate: 1000, burst: 1000}
  tiny: {rate: 0.001, burst: 1}
  bulk: {rate: 1000000, burst: 1000000}
clients:
  limited: tiny
  bench: bulk
`

// recorder upstream: an HTTP server standing in for the worker (or the issuer) that records
// what reached it.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*http.Request // guarded by mu
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, r)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// last returns the last request seen with a path below prefix, or nil.
func (u *upstream) last(prefix string) *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.seen) - 1; i >= 0; i-- {
		if strings.HasPrefix(u.seen[i].URL.Path, prefix) {
			return u.seen[i]
		}
	}
	return nil
}

// count returns how many model requests arrived (health checks excluded).
func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, r := range u.seen {
		if strings.HasPrefix(r.URL.Path, "/v2/models/") {
			n++
		}
	}
	return n
}

// grpcUpstream is an h2c gRPC server with the inference service name, echoing a string and
// recording the metadata it received.
type grpcUpstream struct {
	addr string
	mu   sync.Mutex
	md   metadata.MD // guarded by mu
}

func newGRPCUpstream(t testing.TB) *grpcUpstream {
	g := &grpcUpstream{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	s := grpc.NewServer()
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "inference.GRPCInferenceService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "ModelInfer", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := &wrapperspb.StringValue{}
			if err := dec(in); err != nil {
				return nil, err
			}
			md, _ := metadata.FromIncomingContext(ctx)
			g.mu.Lock()
			g.md = md
			g.mu.Unlock()
			return wrapperspb.String("echo:" + in.GetValue()), nil
		}}},
	}, struct{}{})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return g
}

func (g *grpcUpstream) metadata() metadata.MD {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.md
}

// stack is a running extauthz (real server, real test IdP), a worker stand-in, an issuer
// stand-in, a gRPC worker stand-in, and the dev edge on the project's envoy.yaml in front.
type stack struct {
	t         testing.TB
	idp       *testidp.IdP
	authz     *server.Server
	worker    *upstream
	issuer    *upstream
	grpc      *grpcUpstream
	edge      *Edge
	accessLog *syncbuf.Buffer
	auditPath string
}

func startStack(t testing.TB) *stack {
	t.Helper()
	idp, err := testidp.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	dir := t.TempDir()
	s := &stack{t: t, idp: idp, auditPath: filepath.Join(dir, "audit.log")}
	cfg := filepath.Join(dir, "extauthz.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(extauthzConfig, idp.URL(), s.auditPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.authz, err = server.New(ctx, cfg, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.authz.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "extauthz ready", func() bool {
		if s.authz.HTTPAddr() == "" {
			return false
		}
		resp, err := http.Get("http://" + s.authz.HTTPAddr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	s.worker, s.issuer, s.grpc = newUpstream(t), newUpstream(t), newGRPCUpstream(t)
	s.accessLog = &syncbuf.Buffer{}
	s.edge = runEdge(t, Options{AccessLog: s.accessLog, Clusters: map[string]string{
		"extauthz_grpc": s.authz.GRPCAddr(), "extauthz_http": s.issuer.addr(),
		"worker": s.worker.addr(), "worker_grpc": s.grpc.addr,
	}})
	return s
}

// runEdge runs the dev edge on the project's envoy.yaml, on loopback ports.
func runEdge(t testing.TB, opts Options) *Edge {
	t.Helper()
	b, err := Load(projectEnvoy)
	if err != nil {
		t.Fatal(err)
	}
	opts.Listen, opts.Admin = "127.0.0.1:0", "127.0.0.1:0"
	e, err := New(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("edge Run: %v", err)
		}
	})
	waitFor(t, "edge listening", func() bool { return e.Addr() != "" })
	return e
}

func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// token mints a token for client with scope.
func (s *stack) token(client, scope string) string {
	s.t.Helper()
	tok, err := s.idp.Mint(testidp.Token{Claims: map[string]any{
		"sub": client, "client_id": client, "scope": scope, "jti": "jti-" + client + "-" + scope,
	}})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// do sends one request through the edge and returns the response with its body read.
func (s *stack) do(method, path string, body io.Reader, header map[string]string) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.edge.Addr()+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
