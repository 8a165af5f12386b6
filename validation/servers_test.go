package validation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var b64 = base64.RawURLEncoding

// buildBinary builds a command of the workspace into a temporary directory.
func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is a started binary, stopped (SIGTERM, then SIGKILL) when the test ends.
type process struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	log := filepath.Join(t.TempDir(), filepath.Base(bin)+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitReady polls url until it answers 200; it fails when the process exits first.
func (p *process) waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			out, _ := os.ReadFile(p.log)
			return fmt.Errorf("exited: %s", tail(string(out), 2000))
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, _ := os.ReadFile(p.log)
	return fmt.Errorf("%s not ready after %s: %s", url, timeout, tail(string(out), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// startRedis runs redis-server on a free port and returns its URL. Without redis-server it
// returns the URL of a closed port: the limiter then runs degraded, which exports the same
// series.
func startRedis(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Logf("redis-server not installed: extauthz runs with Redis down (degraded limits)")
		return "redis://" + addr + "/0"
	}
	_, port, _ := net.SplitHostPort(addr)
	p := startProcess(t, path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "redis://" + addr + "/0"
		}
		select {
		case <-p.exited:
			t.Fatal("redis-server exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("redis-server did not listen")
	return ""
}

// testIdP is an identity provider with one ES256 key: a JWKS endpoint and a token signer.
type testIdP struct {
	url string
	key *ecdsa.PrivateKey
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	point := pub.Bytes() // 0x04 || X || Y
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:]),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return &testIdP{url: srv.URL, key: key}
}

// token signs an ES256 access token for client with scope.
func (idp *testIdP) token(t *testing.T, client, scope string) string {
	t.Helper()
	now := time.Now().Unix()
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "at+jwt", "kid": "k1"})
	claims, _ := json.Marshal(map[string]any{
		"iss": idp.url, "aud": "torchgate", "sub": client, "client_id": client, "scope": scope,
		"iat": now, "exp": now + 300, "jti": fmt.Sprintf("jti-%d", time.Now().UnixNano()),
	})
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, idp.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

// extauthzServer is a running extauthz.
type extauthzServer struct {
	httpURL string
	issuer  bool // the binary took the issuer configuration and issued a token
}

const extauthzConfig = `
listen: {grpc: %s, http: %s}
issuers:
  - issuer: %s
    jwks_uri: %s/jwks
    audiences: [torchgate]
audit: {path: %s}
redis: {url: %s, on_error: local, timeout: 50ms}
default_tier: free
tiers:
  free: {rate: 100, burst: 100, quotas: {day: 1000}, priority: 0}
`

const issuerConfig = `
issuer:
  enabled: true
  url: %s
  audience: torchgate
  keys_dir: %s
  clients_file: %s
`

// startExtauthz builds and runs extauthz like the README's configuration, with an identity
// provider, Redis and tiers, then makes the Checks (allowed, denied, cached) and, when the
// binary has the issuer, the token requests that bring every series into existence.
func startExtauthz(t *testing.T) *extauthzServer {
	t.Helper()
	bin := buildBinary(t, "./extauthz/cmd/extauthz")
	idp := newTestIdP(t)
	redisURL := startRedis(t)
	dir := t.TempDir()
	const clientID, secret = "validation-client", "validation-secret-0123456789abcdef"
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(secret))
	clients := fmt.Sprintf("clients:\n  - id: %s\n    secret_hash: hmac-sha256$%s$%s\n    scopes: [infer:mlp]\n",
		clientID, b64.EncodeToString(salt), b64.EncodeToString(m.Sum(nil)))
	if err := os.WriteFile(filepath.Join(dir, "clients.yaml"), []byte(clients), 0o600); err != nil {
		t.Fatal(err)
	}

	var s *extauthzServer
	var grpcAddr string
	for _, withIssuer := range []bool{true, false} {
		grpcAddr = freeAddr(t)
		httpAddr := freeAddr(t)
		cfg := fmt.Sprintf(extauthzConfig, grpcAddr, httpAddr, idp.url, idp.url, filepath.Join(dir, "audit.log"), redisURL)
		if withIssuer {
			cfg += fmt.Sprintf(issuerConfig, "http://"+httpAddr, filepath.Join(dir, "keys"), filepath.Join(dir, "clients.yaml"))
		}
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p := startProcess(t, bin, "serve", "--config", path)
		err := p.waitReady("http://"+httpAddr+"/readyz", 20*time.Second)
		if err != nil && withIssuer && strings.Contains(err.Error(), "issuer") {
			t.Logf("extauthz refused the issuer configuration; running without it: %s", tail(err.Error(), 300))
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		s = &extauthzServer{httpURL: "http://" + httpAddr}
		if withIssuer {
			s.issuer = s.requestTokens(t, clientID, secret)
		}
		break
	}

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	tok := idp.token(t, "validation-idp-client", "infer:mlp")
	for i, authorization := range []string{"", "Bearer " + tok, "Bearer " + tok, "Bearer not.a.token"} {
		headers := map[string]string{":method": "POST", ":path": "/v2/models/mlp/infer"}
		if authorization != "" {
			headers["authorization"] = authorization
		}
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/v2/models/mlp/infer", Host: "torchgate", Headers: headers,
			}},
			ContextExtensions: map[string]string{"scope": "infer:mlp", "model": "mlp", "cost": "1"},
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := client.Check(ctx, req)
		cancel()
		if err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
		if allowed := resp.GetOkResponse() != nil; allowed != (i == 1 || i == 2) {
			t.Fatalf("check %d: allowed=%v (status %v)", i, allowed, resp.GetStatus())
		}
	}
	return s
}

// requestTokens asks the issuer for a token with the right secret and once with a wrong one;
// it reports whether the token was issued.
func (s *extauthzServer) requestTokens(t *testing.T, id, secret string) bool {
	t.Helper()
	issued := false
	for _, pass := range []string{secret, "wrong-secret"} {
		req, _ := http.NewRequest(http.MethodPost, s.httpURL+"/oauth2/token",
			strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(pass))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if pass == secret {
			issued = resp.StatusCode == http.StatusOK
			if !issued {
				t.Logf("issuer: token request answered %d; issuer series not checked", resp.StatusCode)
				return false
			}
		}
	}
	return issued
}

// scrape reads the server's /metrics.
func (s *extauthzServer) scrape(t *testing.T) map[string]string {
	t.Helper()
	return scrapeURL(t, s.httpURL+"/metrics")
}

func scrapeURL(t *testing.T, u string) map[string]string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return parseExposition(string(body))
}

// scrapeWorker builds the worker and, when it has the serve command, serves the bundled
// compose model repository (deploy/models), makes one inference with zeros shaped by the
// model's metadata, and scrapes /metrics. ok is false when the worker cannot serve yet.
func scrapeWorker(t *testing.T) (families map[string]string, ok bool) {
	t.Helper()
	bin := buildBinary(t, "./worker/cmd/worker")
	if out, _ := exec.Command(bin, "serve", "-h").CombinedOutput(); !strings.Contains(string(out), "model-repository") {
		return nil, false
	}
	repo, err := filepath.Abs(repoPath("deploy", "models"))
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := freeAddr(t)
	p := startProcess(t, bin, "serve", "--model-repository", repo, "--http", httpAddr, "--grpc", freeAddr(t))
	base := "http://" + httpAddr
	if err := p.waitReady(base+"/v2/health/ready", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	inferZeros(t, base, "mlp")
	// One refused request, so the failure counter has a series to scrape.
	resp, err := http.Post(base+"/v2/models/mlp/infer", "application/json", strings.NewReader(`{"inputs":[{"name":"no_such_input","datatype":"FP32","shape":[1],"data":[0]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad infer: %d, want 400", resp.StatusCode)
	}
	return scrapeURL(t, base+"/metrics"), true
}

// inferZeros reads a model's metadata and infers a batch of one with zero inputs.
func inferZeros(t *testing.T, base, model string) {
	t.Helper()
	resp, err := http.Get(base + "/v2/models/" + model)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Inputs []struct {
			Name     string  `json:"name"`
			Datatype string  `json:"datatype"`
			Shape    []int64 `json:"shape"`
		} `json:"inputs"`
	}
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("model metadata: %v", err)
	}
	var inputs []map[string]any
	for _, in := range meta.Inputs {
		n := int64(1)
		shape := make([]int64, len(in.Shape))
		for i, d := range in.Shape {
			shape[i] = max(d, 1) // -1 (batch or dynamic) → 1
			n *= shape[i]
		}
		inputs = append(inputs, map[string]any{"name": in.Name, "datatype": in.Datatype, "shape": shape, "data": make([]float64, n)})
	}
	body, _ := json.Marshal(map[string]any{"inputs": inputs})
	resp, err = http.Post(base+"/v2/models/"+model+"/infer", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("infer %s: %d %s", model, resp.StatusCode, msg)
	}
}
