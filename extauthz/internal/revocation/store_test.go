package revocation

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/token"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// registry is a fake ClientState.
type registry struct {
	disabled  map[string]bool
	notBefore map[string]time.Time
}

func (r registry) Disabled(id string) bool       { return r.disabled[id] }
func (r registry) NotBefore(id string) time.Time { return r.notBefore[id] }

func TestRevoked(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	var hooks []string
	s := New(Options{Now: c.Now, Issuer: "https://iss",
		Clients:  registry{disabled: map[string]bool{"off": true}, notBefore: map[string]time.Time{"nb": t0}},
		OnRevoke: func(jti, client string, _ time.Time) { hooks = append(hooks, jti+"/"+client) }})
	ctx := context.Background()
	if err := s.RevokeJTI(ctx, "j1", "a", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeClient(ctx, "b", t0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		claims token.Claims
		reason string
	}{
		{name: "revoked jti", claims: token.Claims{JTI: "j1", ClientID: "a", IssuedAt: t0}, reason: ReasonRevoked},
		{name: "other jti", claims: token.Claims{JTI: "j2", ClientID: "a", IssuedAt: t0}},
		{name: "issued before the watermark", claims: token.Claims{JTI: "j3", ClientID: "b", IssuedAt: t0.Add(-time.Second)}, reason: ReasonClientRevoked},
		{name: "no iat under a watermark", claims: token.Claims{JTI: "j3", ClientID: "b"}, reason: ReasonClientRevoked},
		{name: "issued at the watermark", claims: token.Claims{JTI: "j3", ClientID: "b", IssuedAt: t0}},
		{name: "disabled client of the issuer", claims: token.Claims{Issuer: "https://iss", ClientID: "off", IssuedAt: t0}, reason: ReasonClientDisabled},
		{name: "same client id at another issuer", claims: token.Claims{Issuer: "https://idp", ClientID: "off", IssuedAt: t0}},
		{name: "registry watermark", claims: token.Claims{Issuer: "https://iss", ClientID: "nb", IssuedAt: t0.Add(-time.Second)}, reason: ReasonClientRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, revoked := s.Revoked(&tc.claims)
			if reason != tc.reason || revoked != (tc.reason != "") {
				t.Errorf("Revoked = %q %v, want %q", reason, revoked, tc.reason)
			}
		})
	}
	if len(hooks) != 2 || hooks[0] != "j1/a" || hooks[1] != "/b" {
		t.Errorf("hooks = %v", hooks)
	}
	// Pruning drops the jti after its exp and the watermark after the longest lifetime.
	c.Advance(time.Minute)
	s.prune()
	if j, cl := s.Len(); j != 0 || cl != 1 {
		t.Errorf("after exp: %d jtis, %d clients", j, cl)
	}
	c.Advance(DefaultMaxTokenLifetime)
	s.prune()
	if j, cl := s.Len(); j != 0 || cl != 0 {
		t.Errorf("after max lifetime: %d jtis, %d clients", j, cl)
	}
}

func BenchmarkRevoked(b *testing.B) {
	s := New(Options{})
	for i := range 10000 {
		_ = s.RevokeJTI(context.Background(), string(rune(i)), "c", time.Now().Add(time.Hour))
	}
	c := &token.Claims{JTI: "live", ClientID: "c", IssuedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		s.Revoked(c)
	}
}
