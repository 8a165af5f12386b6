package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// accessLine returns the access log line with the given request id.
func (s *stack) accessLine(requestID string) map[string]any {
	s.t.Helper()
	var line map[string]any
	waitFor(s.t, "access log line", func() bool {
		for l := range strings.SplitSeq(s.accessLog.String(), "\n") {
			if strings.Contains(l, requestID) {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	})
	return line
}

func TestEdgeEndToEnd(t *testing.T) {
	s := startStack(t)

	t.Run("allowed request reaches the worker with identity and without forged headers", func(t *testing.T) {
		h := bearer(s.token("svc-a", "infer:mlp"))
		h["X-Torchgate-Client-Id"] = "forged"
		h["X-Torchgate-Tier"] = "enterprise"
		h["X-Torchgate-Other"] = "forged"
		h["X-Request-Id"] = "req-allowed"
		resp, body := s.do("POST", "/v2/models/mlp/infer", strings.NewReader(`{"inputs":[]}`), h)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		got := s.worker.last("/v2/models/")
		want := map[string]string{
			"X-Torchgate-Client-Id": "svc-a", "X-Torchgate-Subject": "svc-a", "X-Torchgate-Scopes": "infer:mlp",
			"X-Torchgate-Tier": "free", "X-Torchgate-Priority": "0", "X-Request-Id": "req-allowed",
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http",
		}
		for k, v := range want {
			if vs := got.Header.Values(k); len(vs) != 1 || vs[0] != v {
				t.Errorf("upstream %s = %q, want [%q]", k, vs, v)
			}
		}
		for _, k := range []string{"Authorization", "X-Torchgate-Other"} {
			if _, ok := got.Header[k]; ok {
				t.Errorf("upstream received %s", k) // the value may be a token: never print it
			}
		}
		if got.URL.Path != "/v2/models/mlp/infer" || got.ContentLength != int64(len(`{"inputs":[]}`)) {
			t.Errorf("upstream path %q content-length %d", got.URL.Path, got.ContentLength)
		}
		if resp.Header.Get("RateLimit-Policy") == "" || resp.Header.Get("RateLimit") == "" {
			t.Errorf("response lacks RateLimit fields: %v", resp.Header)
		}
		line := s.accessLine("req-allowed")
		for k, v := range map[string]any{"client_id": "svc-a", "model": "mlp", "status": 200.0, "route": "model_mlp",
			"upstream_cluster": "worker", "method": "POST", "path": "/v2/models/mlp/infer"} {
			if line[k] != v {
				t.Errorf("access log %s = %v, want %v (line %v)", k, line[k], v, line)
			}
		}
	})

	t.Run("no token is 401 with WWW-Authenticate and a JSON body", func(t *testing.T) {
		before := s.worker.count()
		resp, body := s.do("POST", "/v2/models/mlp/infer", strings.NewReader("{}"), map[string]string{"X-Request-Id": "req-401"})
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		var e struct{ Error string }
		if resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("content-type %q body %q", resp.Header.Get("Content-Type"), body)
		}
		if s.worker.count() != before {
			t.Error("a denied request reached the worker")
		}
		if line := s.accessLine("req-401"); line["status"] != 401.0 || line["flags"] != "UAEX" || line["client_id"] != nil {
			t.Errorf("access log %v", line)
		}
	})

	t.Run("a token without the model's scope is 403 insufficient_scope", func(t *testing.T) {
		resp, _ := s.do("POST", "/v2/models/resnet18/infer", strings.NewReader("{}"), bearer(s.token("svc-b", "infer:mlp")))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})

	t.Run("over the tier is 429 with Retry-After and RateLimit fields", func(t *testing.T) {
		h := bearer(s.token("limited", "infer:all"))
		if resp, body := s.do("GET", "/v2/models/cnn", nil, h); resp.StatusCode != http.StatusOK {
			t.Fatalf("first request: %d %s", resp.StatusCode, body)
		}
		resp, _ := s.do("GET", "/v2/models/cnn", nil, h)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
			resp.Header.Get("RateLimit") == "" || resp.Header.Get("RateLimit-Policy") == "" {
			t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("oauth2 and health routes pass without ext_authz", func(t *testing.T) {
		resp, _ := s.do("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials"),
			map[string]string{"Authorization": "Basic Y2xpZW50OnNlY3JldA==", "Content-Type": "application/x-www-form-urlencoded"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/oauth2/token: %d", resp.StatusCode)
		}
		if got := s.issuer.last("/oauth2/"); got.URL.Path != "/oauth2/token" || got.Header.Get("Authorization") != "Basic Y2xpZW50OnNlY3JldA==" {
			t.Errorf("issuer saw %s with Authorization %q", got.URL.Path, got.Header.Get("Authorization"))
		}
		if resp, _ := s.do("GET", "/.well-known/oauth-authorization-server", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("/.well-known: %d", resp.StatusCode)
		}
		if resp, _ := s.do("GET", "/v2/health/ready", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("/v2/health/ready: %d", resp.StatusCode)
		}
	})

	t.Run("the oauth2 routes cap bodies at 64 KiB", func(t *testing.T) {
		resp, _ := s.do("POST", "/oauth2/token", bytes.NewReader(make([]byte, 65537)), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})

	t.Run("an unknown path is 404 without a decision", func(t *testing.T) {
		resp, body := s.do("GET", "/admin/secrets", nil, nil)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, "not_found") {
			t.Fatalf("status %d, content-type %q, body %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})

	t.Run("dot segments are resolved before routing", func(t *testing.T) {
		h := bearer(s.token("svc-c", "infer:mlp"))
		resp, _ := s.do("POST", "/v2/models/mlp/%2e%2e/resnet18/infer", strings.NewReader("{}"), h)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("mlp token on a path that resolves to resnet18: %d, want 403", resp.StatusCode)
		}
		resp, _ = s.do("POST", "/v2/models/cnn/../mlp//infer", strings.NewReader("{}"), h)
		if resp.StatusCode != http.StatusOK || s.worker.last("/v2/models/").URL.Path != "/v2/models/mlp/infer" {
			t.Errorf("status %d, upstream path %q", resp.StatusCode, s.worker.last("/v2/models/").URL.Path)
		}
		if resp, _ := s.do("GET", "/v2/models/mlp%2Finfer", nil, h); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("encoded slash: %d, want 400", resp.StatusCode)
		}
	})

	t.Run("a body over the limit is 413", func(t *testing.T) {
		h := bearer(s.token("svc-d", "infer:mlp"))
		before := s.worker.count()
		big := 64<<20 + 1
		// Unknown length (chunked): the edge must count while buffering.
		resp, _ := s.do("POST", "/v2/models/mlp/infer", io.MultiReader(bytes.NewReader(make([]byte, big))), h)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked: status %d, want 413", resp.StatusCode)
		}
		if s.worker.count() != before {
			t.Error("an oversized request reached the worker")
		}
	})

	t.Run("gRPC over h2c reaches the gRPC worker with identity", func(t *testing.T) {
		conn, err := grpc.NewClient(s.edge.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out := &wrapperspb.StringValue{}
		authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.token("svc-e", "infer:all"),
			"x-torchgate-scopes", "admin")
		if err := conn.Invoke(authed, "/inference.GRPCInferenceService/ModelInfer", wrapperspb.String("x"), out); err != nil {
			t.Fatalf("ModelInfer: %v", err)
		}
		md := s.grpc.metadata()
		if out.GetValue() != "echo:x" || len(md.Get("authorization")) != 0 ||
			strings.Join(md.Get("x-torchgate-client-id"), ",") != "svc-e" || strings.Join(md.Get("x-torchgate-scopes"), ",") != "infer:all" {
			t.Errorf("reply %q, upstream metadata %v", out.GetValue(), md)
		}
		err = conn.Invoke(ctx, "/inference.GRPCInferenceService/ModelInfer", wrapperspb.String("x"), out)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("without a token: %v, want Unauthenticated", err)
		}
	})

	t.Run("admin serves ready on its own address", func(t *testing.T) {
		resp, err := http.Get("http://" + s.edge.AdminAddr() + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/ready: %d", resp.StatusCode)
		}
	})
}

func TestEdgeFailsClosedWhenExtauthzIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	worker := newUpstream(t)
	e := runEdge(t, Options{AccessLog: io.Discard, Clusters: map[string]string{
		"extauthz_grpc": dead, "extauthz_http": dead, "worker": worker.addr(), "worker_grpc": dead,
	}})
	for range 2 {
		req, _ := http.NewRequest("POST", "http://"+e.Addr()+"/v2/models/mlp/infer", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer x.y.z")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503 (status_on_error)", resp.StatusCode)
		}
	}
	if worker.count() != 0 {
		t.Error("a request passed while extauthz was down")
	}
	// Routes without ext_authz still work.
	resp, err := http.Get("http://" + e.Addr() + "/v2/health/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/v2/health/live: %d", resp.StatusCode)
	}
}
