package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the directory of the go.work file this test runs under.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	work := strings.TrimSpace(string(out))
	if err != nil || work == "" || work == "off" {
		t.Skip("the end-to-end test needs the repository's go.work (run it from the repository)")
	}
	return filepath.Dir(work)
}

// recorder sits between the edge and the worker and keeps the headers of every request.
type recorder struct {
	mu      sync.Mutex
	headers []http.Header
}

func (r *recorder) proxy(t *testing.T) func(string) string {
	return func(workerAddr string) string {
		target, _ := url.Parse("http://" + workerAddr)
		rp := httputil.NewSingleHostReverseProxy(target)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.mu.Lock()
			r.headers = append(r.headers, req.Header.Clone())
			r.mu.Unlock()
			rp.ServeHTTP(w, req)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
}

// TestStory runs the demo's story through the dev edge on the project's envoy.yaml, with a real
// redis-server when installed, and checks every status, header, what the worker saw, and the
// audit trail.
func TestStory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	root := repoRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "bin")
	if err := Build(ctx, root, bin); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	var logs strings.Builder
	var logMu sync.Mutex
	s, err := Start(ctx, Options{Root: root, Bin: bin, Dir: dir, WorkerProxy: rec.proxy(t),
		Log: writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) })})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := exec.LookPath("redis-server"); err == nil && !s.RedisUsed() {
		t.Error("redis-server is installed but the stack did not use it")
	}
	steps, err := Story(ctx, s)
	if err != nil {
		t.Fatalf("story: %v", err)
	}
	byName := map[string]Step{}
	for _, st := range steps {
		byName[st.Name] = st
	}
	expect := []struct {
		step   string
		status int
		header string // a header that must be present (name: substring)
	}{
		{"get a token for demo (client credentials)", 200, ""},
		{"infer with the token", 200, "RateLimit-Policy:\"burst\";q=5"},
		{"infer without a token", 401, `WWW-Authenticate:Bearer realm="torchgate"`},
		{"infer with a token lacking infer:mlp", 403, `WWW-Authenticate:error="insufficient_scope"`},
		{"exceed the free tier", 429, "Retry-After:"},
		{"infer with the revoked client's token", 401, `WWW-Authenticate:error="invalid_token"`},
		{"decision counts", 200, ""},
	}
	for _, e := range expect {
		st, ok := byName[e.step]
		if !ok {
			t.Errorf("step %q missing; steps: %v", e.step, names(steps))
			continue
		}
		if st.Status != e.status {
			t.Errorf("%s: status %d, want %d (%s)", e.step, st.Status, e.status, st.Body)
		}
		if e.header != "" {
			name, want, _ := strings.Cut(e.header, ":")
			if !strings.Contains(st.Header.Get(name), want) {
				t.Errorf("%s: %s = %q, want it to contain %q", e.step, name, st.Header.Get(name), want)
			}
		}
	}
	if !strings.Contains(byName["infer with the token"].Body, `"outputs"`) {
		t.Errorf("inference answer has no outputs: %s", byName["infer with the token"].Body)
	}
	if st := byName["exceed the free tier"]; !strings.Contains(st.Header.Get("RateLimit"), `"burst";r=0`) {
		t.Errorf("429 RateLimit = %q", st.Header.Get("RateLimit"))
	}
	for _, want := range []string{`decision="allow",reason="allowed"`, `reason="missing_token"`, `reason="insufficient_scope"`,
		`reason="rate_limited"`, `reason="revoked"`} {
		if !strings.Contains(byName["decision counts"].Body, want) {
			t.Errorf("decision metrics lack %s:\n%s", want, byName["decision counts"].Body)
		}
	}

	// The worker never saw a credential or a client-forged identity header.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	sawInfer := false
	for _, h := range rec.headers {
		if h.Get("Authorization") != "" {
			t.Error("the worker received an Authorization header")
		}
		if h.Get("X-Request-Id") == "demo-infer-1" {
			sawInfer = true
			if h.Get("X-Torchgate-Client-Id") != "demo" || h.Get("X-Torchgate-Tier") != "free" {
				t.Errorf("worker saw identity %q tier %q, want demo/free (the forged values must not pass)",
					h.Get("X-Torchgate-Client-Id"), h.Get("X-Torchgate-Tier"))
			}
		}
	}
	if !sawInfer {
		t.Error("the allowed inference never reached the worker")
	}

	// The audit trail: one line per decision with the request id, and the token never in it.
	s.Stop()
	audit, err := os.ReadFile(s.AuditPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"msg":"authz.decision"`, `"request_id":"demo-infer-1"`, `"client_id":"demo"`,
		`"decision":"deny","reason":"revoked"`, `"reason":"rate_limited"`} {
		if !strings.Contains(string(audit), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if strings.Contains(string(audit), "eyJ") {
		t.Error("the audit log holds something that looks like a JWT")
	}
	if t.Failed() {
		logMu.Lock()
		t.Logf("stack logs:\n%s", logs.String())
		logMu.Unlock()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func names(steps []Step) []string {
	out := make([]string, len(steps))
	for i, st := range steps {
		out[i] = st.Name
	}
	return out
}
