package authz

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/audit"
	"github.com/torchgate/torchgate/extauthz/internal/policy"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// Policy is one immutable snapshot of everything a decision reads from the configuration. A
// reload builds a new Policy and swaps it in; checks in flight finish on the one they started
// with.
type Policy struct {
	Verifier          *token.Verifier
	Routes            *policy.Table
	MaxHeaderBytes    int
	KeepAuthorization bool
	Limits            *Limits // nil: no rate limits or quotas
	// Revocations, when set, answers from memory whether a verified token was revoked.
	Revocations Revocations
}

// Revocations reports revoked tokens (revoked jti, client watermark, disabled client) without
// any I/O; revocation.Store implements it.
type Revocations interface {
	Revoked(c *token.Claims) (reason string, revoked bool)
}

// Service decides ext_authz Check requests; Register serves it as
// envoy.service.auth.v3.Authorization. It is safe for concurrent use.
type Service struct {
	policy  atomic.Pointer[Policy]
	audit   *audit.Logger
	metrics *Metrics
	now     func() time.Time
}

// Options configure a Service. A nil Audit disables the audit log; Now defaults to time.Now.
type Options struct {
	Audit   *audit.Logger
	Metrics *Metrics
	Now     func() time.Time
}

// NewService returns a Service deciding with p.
func NewService(p *Policy, opts Options) *Service {
	s := &Service{audit: opts.Audit, metrics: opts.Metrics, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.policy.Store(p)
	return s
}

// SetPolicy swaps in a new policy; subsequent checks use it.
func (s *Service) SetPolicy(p *Policy) { s.policy.Store(p) }

// responseCapacity is the buffer a response starts with: enough for an allowed response
// with identity headers, rate-limit fields and dynamic metadata.
const responseCapacity = 640

// check answers one Check RPC. Every outcome, including a denial, is a CheckResponse with a nil
// gRPC error: Envoy turns a gRPC error into status_on_error, which would hide the reason from
// the client.
func (s *Service) check(ctx context.Context, r *request) wireResponse {
	start := s.now()
	p := s.policy.Load()
	d := s.decide(ctx, p, r)
	resp := appendResponse(make([]byte, 0, responseCapacity), &d, r, p.KeepAuthorization)
	elapsed := s.now().Sub(start)
	if s.metrics != nil {
		s.metrics.observe(d, elapsed.Seconds())
	}
	if s.audit != nil {
		s.record(start, elapsed, r, d)
	}
	return resp
}

// decide runs the checks in order: authentication, then route policy, then scope. A failure
// at any step denies; nothing here can allow a request whose token did not verify. The route is
// resolved first only so that denials name the model in the audit log.
func (s *Service) decide(ctx context.Context, p *Policy, r *request) Decision {
	need, routeErr := p.Routes.Resolve(r.context, r.method, r.path)
	raw, err := token.ParseAuthorization(r.authorization, p.MaxHeaderBytes)
	if err == nil {
		var claims *token.Claims
		if claims, err = p.Verifier.Verify(ctx, raw); err == nil {
			if p.Revocations != nil {
				if _, revoked := p.Revocations.Revoked(claims); revoked {
					d := denyToken(token.ErrRevoked)
					d.Claims, d.Need = claims, need
					return d
				}
			}
			return decideAuthenticated(ctx, p, claims, need, routeErr)
		}
	}
	d := denyToken(err)
	d.Need = need
	return d
}

// decideAuthenticated applies route policy, scope and then limits to a verified token. Limits
// come last so that a request denied for any other reason spends nothing.
func decideAuthenticated(ctx context.Context, p *Policy, claims *token.Claims, need policy.Requirement, routeErr error) Decision {
	if routeErr != nil {
		return denyRoute(claims, routeErr)
	}
	if !claims.HasAnyScope(need.Scopes) {
		return denyScope(claims, need)
	}
	if p.Limits != nil {
		return p.Limits.apply(ctx, claims, need)
	}
	return allow(claims, need)
}

// maxLoggedRequestID bounds the client-supplied request id in the audit log.
const maxLoggedRequestID = 128

func (s *Service) record(start time.Time, elapsed time.Duration, r *request, d Decision) {
	outcome := "deny"
	if d.Allowed {
		outcome = "allow"
	}
	reqID := r.requestID
	if len(reqID) > maxLoggedRequestID {
		reqID = reqID[:maxLoggedRequestID]
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", reqID),
		slog.String("method", r.method),
		slog.String("path", r.path),
		slog.String("model", d.Need.Model),
		slog.String("decision", outcome),
		slog.String("reason", d.Reason),
		slog.Int("status", d.Status),
		slog.Int64("latency_us", elapsed.Microseconds()),
		slog.String("source", r.source))
	if c := d.Claims; c != nil {
		attrs = append(attrs,
			slog.String("client_id", c.ClientID),
			slog.String("subject", c.Subject),
			slog.String("jti", c.JTI),
			slog.String("issuer", c.Issuer))
	}
	if d.Tier != nil {
		attrs = append(attrs, slog.String("tier", d.Tier.Name))
	}
	s.audit.Log(start, "authz.decision", attrs...)
}
