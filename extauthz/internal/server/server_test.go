package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/torchgate/torchgate/extauthz/internal/testidp"
)

// harness is a running extauthz with a real JWKS server and a real gRPC client.
type harness struct {
	t      testing.TB
	idp    *testidp.IdP
	srv    *Server
	client authv3.AuthorizationClient
	conn   *grpc.ClientConn
	path   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

const baseConfig = `
listen: {grpc: 127.0.0.1:0, http: 127.0.0.1:0}
issuers:
  - issuer: %s
    audiences: [torchgate]
    unknown_kid_cooldown: 1h
routes:
  - path_prefix: /v2/models/mlp/
    scopes: [infer:mlp, infer:all%s]
    model: mlp
audit: {path: %s}
`

func start(t testing.TB) *harness {
	t.Helper()
	idp, err := testidp.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	return startWith(t, idp, "")
}

// startWith runs a server trusting idp, with extra YAML appended to the base configuration.
func startWith(t testing.TB, idp *testidp.IdP, extra string) *harness {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "extauthz.yaml")
	writeConfig(t, path, fmt.Sprintf(baseConfig, idp.URL(), "", filepath.Join(dir, "audit.log"))+extra)
	h := launch(t, path)
	h.idp = idp
	return h
}

// launch runs a server on the configuration at path and connects a gRPC client once it is
// ready; the server stops when the test ends.
func launch(t testing.TB, path string) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, path, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, path: path, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- srv.Run(ctx) }()
	t.Cleanup(h.stop)
	waitFor(t, "listening", func() bool { return srv.GRPCAddr() != "" })
	h.conn, err = grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h.client = authv3.NewAuthorizationClient(h.conn)
	waitFor(t, "ready", func() bool { return h.httpStatus("/readyz") == http.StatusOK })
	return h
}

func (h *harness) stop() {
	h.once.Do(func() {
		if h.conn != nil {
			h.conn.Close()
		}
		h.cancel()
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			h.t.Error("server did not stop")
		}
	})
}

func writeConfig(t testing.TB, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
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

func (h *harness) httpStatus(path string) int {
	resp, err := http.Get("http://" + h.srv.HTTPAddr() + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) mint(tok testidp.Token) string {
	h.t.Helper()
	if tok.Claims == nil {
		tok.Claims = map[string]any{}
	}
	for k, v := range map[string]any{"sub": "svc-a", "client_id": "svc-a", "scope": "infer:mlp", "jti": "j-1"} {
		if _, ok := tok.Claims[k]; !ok {
			tok.Claims[k] = v
		}
	}
	s, err := h.idp.Mint(tok)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// check sends one Check over real gRPC, like Envoy does.
func (h *harness) check(headers map[string]string, ext map[string]string) *authv3.CheckResponse {
	h.t.Helper()
	resp, err := h.client.Check(context.Background(), checkRequest("POST", "/v2/models/mlp/infer?x=1", headers, ext))
	if err != nil {
		h.t.Fatalf("Check: %v", err)
	}
	return resp
}

func checkRequest(method, path string, headers, ext map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.1.2.3", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 5555}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Headers: headers,
		}},
		ContextExtensions: ext,
	}}
}

func bearer(tok string) map[string]string { return map[string]string{"authorization": "Bearer " + tok} }

func TestAllowSetsIdentityAndStripsClientHeaders(t *testing.T) {
	h := start(t)
	hdr := bearer(h.mint(testidp.Token{}))
	hdr["x-torchgate-client-id"] = "forged"
	hdr["x-torchgate-tier"] = "enterprise"
	hdr["x-request-id"] = "req-42"
	resp := h.check(hdr, nil)
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("status %v, denied: %v", resp.GetStatus(), resp.GetDeniedResponse())
	}
	ok := resp.GetOkResponse()
	got := map[string]string{}
	for _, hv := range ok.GetHeaders() {
		if hv.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Errorf("%s: append action %v", hv.GetHeader().GetKey(), hv.GetAppendAction())
		}
		got[hv.GetHeader().GetKey()] = hv.GetHeader().GetValue()
	}
	if got["x-torchgate-client-id"] != "svc-a" || got["x-torchgate-subject"] != "svc-a" || got["x-torchgate-scopes"] != "infer:mlp" {
		t.Errorf("identity headers = %v", got)
	}
	removed := strings.Join(ok.GetHeadersToRemove(), ",")
	if !strings.Contains(removed, "authorization") || !strings.Contains(removed, "x-torchgate-tier") {
		t.Errorf("headers to remove = %q", removed)
	}
	md := resp.GetDynamicMetadata().GetFields()
	if md["client_id"].GetStringValue() != "svc-a" || md["model"].GetStringValue() != "mlp" || md["jti_hash"].GetStringValue() == "" {
		t.Errorf("dynamic metadata = %v", md)
	}
}

func TestDenials(t *testing.T) {
	h := start(t)
	tests := []struct {
		name       string
		headers    map[string]string
		ext        map[string]string
		wantStatus int32
		wantCode   codes.Code
		wantAuth   string
	}{
		{name: "no token", headers: map[string]string{}, wantStatus: 401, wantCode: codes.Unauthenticated,
			wantAuth: `Bearer realm="torchgate"`},
		{name: "expired token", headers: bearer(h.mint(testidp.Token{Now: time.Now().Add(-time.Hour)})),
			wantStatus: 401, wantCode: codes.Unauthenticated, wantAuth: `error="invalid_token"`},
		{name: "missing scope", headers: bearer(h.mint(testidp.Token{Claims: map[string]any{"scope": "infer:cnn"}})),
			wantStatus: 403, wantCode: codes.PermissionDenied, wantAuth: `error="insufficient_scope"`},
		{name: "context scope wins", headers: bearer(h.mint(testidp.Token{})), ext: map[string]string{"scope": "infer:cnn", "model": "cnn"},
			wantStatus: 403, wantCode: codes.PermissionDenied, wantAuth: `scope="infer:cnn"`},
		{name: "two authorization headers", headers: map[string]string{"authorization": "Bearer a.b.c, Bearer d.e.f"},
			wantStatus: 401, wantCode: codes.Unauthenticated, wantAuth: `error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.check(tc.headers, tc.ext)
			d := resp.GetDeniedResponse()
			if d == nil {
				t.Fatalf("allowed, want %d", tc.wantStatus)
			}
			if int32(d.GetStatus().GetCode()) != tc.wantStatus || codes.Code(resp.GetStatus().GetCode()) != tc.wantCode {
				t.Errorf("status %d / %v, want %d / %v", d.GetStatus().GetCode(), codes.Code(resp.GetStatus().GetCode()), tc.wantStatus, tc.wantCode)
			}
			var challenge string
			for _, hv := range d.GetHeaders() {
				if hv.GetHeader().GetKey() == "www-authenticate" {
					challenge = hv.GetHeader().GetValue()
				}
			}
			if !strings.Contains(challenge, tc.wantAuth) {
				t.Errorf("WWW-Authenticate %q lacks %q", challenge, tc.wantAuth)
			}
			if !strings.Contains(d.GetBody(), `"error":`) {
				t.Errorf("body %q is not the JSON error", d.GetBody())
			}
			if tok := tc.headers["authorization"]; tok != "" && strings.Contains(d.GetBody()+challenge, strings.TrimPrefix(tok, "Bearer ")) {
				t.Error("the denial echoes the token")
			}
		})
	}
}

func TestKeyRotationNeedsExactlyOneRefetch(t *testing.T) {
	h := start(t)
	before := h.idp.Fetches()
	kid, err := h.idp.AddKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	resp := h.check(bearer(h.mint(testidp.Token{Alg: "ES256", KID: kid})), nil)
	if resp.GetOkResponse() == nil {
		t.Fatalf("token signed by the rotated-in key was denied: %v", resp.GetDeniedResponse().GetBody())
	}
	if got := h.idp.Fetches() - before; got != 1 {
		t.Errorf("%d JWKS fetches for a new kid, want 1", got)
	}
}

func TestUnknownKIDFloodFetchesOnce(t *testing.T) {
	h := start(t)
	// Tokens signed by a key the IdP has not published yet: their kid is unknown.
	kid, err := h.idp.AddKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	tok := h.mint(testidp.Token{Alg: "ES256", KID: kid})
	h.idp.RemoveKey(kid)
	before := h.idp.Fetches()

	var wg sync.WaitGroup
	var mu sync.Mutex
	denied := 0
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.client.Check(context.Background(), checkRequest("POST", "/v2/models/mlp/infer", bearer(tok), nil))
			if err != nil {
				t.Error(err)
				return
			}
			if resp.GetDeniedResponse().GetStatus().GetCode() == 401 {
				mu.Lock()
				denied++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if denied != 1000 {
		t.Errorf("%d of 1000 unknown-kid checks denied with 401", denied)
	}
	if got := h.idp.Fetches() - before; got != 1 {
		t.Errorf("%d JWKS fetches under an unknown-kid flood, want exactly 1", got)
	}
}

func TestIdPDownKeepsCachedKeys(t *testing.T) {
	h := start(t)
	h.idp.SetDown(true)
	for _, alg := range []string{"RS256", "ES256"} {
		resp := h.check(bearer(h.mint(testidp.Token{Alg: alg})), nil)
		if resp.GetOkResponse() == nil {
			t.Errorf("%s token denied while the IdP is down: %s", alg, resp.GetDeniedResponse().GetBody())
		}
	}
	if h.httpStatus("/readyz") != http.StatusOK {
		t.Error("not ready while keys are cached")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	h := start(t)
	waitFor(t, "grpc health SERVING", func() bool {
		resp, err := healthpb.NewHealthClient(h.conn).Check(context.Background(),
			&healthpb.HealthCheckRequest{Service: authv3.Authorization_ServiceDesc.ServiceName})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	})
	h.check(bearer(h.mint(testidp.Token{})), nil)
	h.check(map[string]string{}, nil)
	resp, err := http.Get("http://" + h.srv.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`torchgate_authz_decisions_total{decision="allow",reason="allowed"} 1`,
		`torchgate_authz_decisions_total{decision="deny",reason="missing_token"} 1`,
		`torchgate_authz_check_duration_seconds_count 2`,
		`torchgate_authz_jwks_fetches_total{issuer="` + h.idp.URL() + `",result="ok"}`,
		`torchgate_authz_token_cache_requests_total{result="miss"} 1`,
		`torchgate_authz_client_requests_total{client_id="other",decision="allow"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if h.httpStatus("/healthz") != http.StatusOK {
		t.Error("/healthz not OK")
	}
}

func TestReloadAppliesGoodConfigAndKeepsOldOnBadOne(t *testing.T) {
	h := start(t)
	tok := h.mint(testidp.Token{Claims: map[string]any{"scope": "infer:cnn"}})
	if h.check(bearer(tok), nil).GetOkResponse() != nil {
		t.Fatal("infer:cnn allowed on the mlp route before reload")
	}
	audit := filepath.Join(filepath.Dir(h.path), "audit.log")
	writeConfig(t, h.path, fmt.Sprintf(baseConfig, h.idp.URL(), ", infer:cnn", audit))
	waitFor(t, "reload via file watch", func() bool { return h.check(bearer(tok), nil).GetOkResponse() != nil })

	writeConfig(t, h.path, "listen: {grpc: [this is not valid}\n")
	if err := h.srv.Reload(); err == nil {
		t.Fatal("bad config accepted")
	}
	if h.check(bearer(tok), nil).GetOkResponse() == nil {
		t.Error("bad config replaced the working one")
	}
}

func TestAuditLogLine(t *testing.T) {
	h := start(t)
	hdr := bearer(h.mint(testidp.Token{}))
	hdr["x-request-id"] = "req-audit-1"
	h.check(hdr, nil)
	h.stop() // flushes the audit log
	b, err := os.ReadFile(filepath.Join(filepath.Dir(h.path), "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	line := string(b)
	for _, want := range []string{`"msg":"authz.decision"`, `"request_id":"req-audit-1"`, `"client_id":"svc-a"`,
		`"jti":"j-1"`, `"path":"/v2/models/mlp/infer"`, `"model":"mlp"`, `"decision":"allow"`, `"status":200`,
		`"source":"10.1.2.3"`, `"latency_us":`, `"issuer":"` + h.idp.URL() + `"`} {
		if !strings.Contains(line, want) {
			t.Errorf("audit line lacks %s: %s", want, line)
		}
	}
	if strings.Contains(line, strings.TrimPrefix(hdr["authorization"], "Bearer ")) {
		t.Error("the audit log holds the token")
	}
}
