package issuer

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/torchgate/torchgate/extauthz/internal/audit"
	"github.com/torchgate/torchgate/extauthz/internal/syncbuf"
)

func TestAuditTrail(t *testing.T) {
	var buf syncbuf.Buffer
	log := audit.New(&buf, 64, nil)
	e := newEnv(t, func(o *Options) { o.Audit = log })
	tok := e.token(t)
	e.do(t, request{body: "grant_type=client_credentials", user: "svc", pass: "wrong-secret"})
	e.do(t, request{path: PathRevoke, body: "token=" + url.QueryEscape(tok), user: "svc", pass: e.secret})
	log.Close()
	out := buf.String()
	if strings.Contains(out, e.secret) || strings.Contains(out, "wrong-secret") || strings.Contains(out, tok) {
		t.Fatal("the audit log holds a secret or a token")
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d audit lines, want 3:\n%s", len(lines), out)
	}
	issued, refused, revoked := lines[0], lines[1], lines[2]
	if issued["msg"] != "issuer.token" || issued["outcome"] != "issued" || issued["client_id"] != "svc" ||
		issued["jti"] == "" || issued["scope"] != "infer:mlp infer:cnn" || issued["source"] != "127.0.0.1" ||
		issued["lifetime"] == nil || issued["aud"] == nil {
		t.Errorf("issued line = %v", issued)
	}
	if refused["outcome"] != "refused" || refused["reason"] != "invalid_client" || refused["client_id"] != "svc" {
		t.Errorf("refused line = %v", refused)
	}
	if revoked["msg"] != "issuer.revoke" || revoked["jti"] != issued["jti"] || revoked["outcome"] != "revoked" {
		t.Errorf("revoke line = %v", revoked)
	}
}
