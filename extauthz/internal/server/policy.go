package server

import (
	"context"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/authz"
	"github.com/torchgate/torchgate/extauthz/internal/config"
	"github.com/torchgate/torchgate/extauthz/internal/jwks"
	"github.com/torchgate/torchgate/extauthz/internal/policy"
	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
	"github.com/torchgate/torchgate/extauthz/internal/token"
	"github.com/torchgate/torchgate/extauthz/internal/tokencache"
)

// keySets owns the running JWKS sets, one per issuer. A reload reuses the set of an issuer whose
// key settings did not change, so a reload never forgets keys or refetches needlessly.
type keySets struct {
	logger  *slog.Logger
	metrics *authz.Metrics

	mu   sync.Mutex
	sets map[setKey]*runningSet // guarded by mu
}

type runningSet struct {
	set    *jwks.Set
	cancel context.CancelFunc
}

func newKeySets(logger *slog.Logger, m *authz.Metrics) *keySets {
	return &keySets{logger: logger, metrics: m, sets: make(map[setKey]*runningSet)}
}

// setKey is the part of an issuer's configuration that decides its key set.
type setKey struct {
	issuer, uri                      string
	minRefresh, maxRefresh, cooldown time.Duration
}

func keyOf(is config.Issuer) setKey {
	return setKey{is.Issuer, is.JWKSURI, is.MinRefresh, is.MaxRefresh, is.UnknownKIDCooldown}
}

// sync starts the sets the issuers need, stops those no longer needed, and returns them in
// issuer order.
func (k *keySets) sync(ctx context.Context, issuers []config.Issuer) ([]*jwks.Set, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	want := make(map[setKey]bool, len(issuers))
	out := make([]*jwks.Set, len(issuers))
	for i, is := range issuers {
		key := keyOf(is)
		want[key] = true
		rs, ok := k.sets[key]
		if !ok {
			set, err := jwks.New(jwks.Options{
				URI: is.JWKSURI, Issuer: is.Issuer,
				MinRefresh: is.MinRefresh, MaxRefresh: is.MaxRefresh,
				UnknownKIDCooldown: is.UnknownKIDCooldown,
				Logger:             k.logger.With("issuer", is.Issuer),
				OnFetch:            func(result string) { k.metrics.JWKSFetched(is.Issuer, result) },
			})
			if err != nil {
				return nil, fmt.Errorf("issuer %q: %w", is.Issuer, err)
			}
			sctx, cancel := context.WithCancel(ctx)
			set.Start(sctx)
			rs = &runningSet{set: set, cancel: cancel}
			k.sets[key] = rs
		}
		out[i] = rs.set
	}
	for key, rs := range k.sets {
		if !want[key] {
			rs.cancel()
			delete(k.sets, key)
		}
	}
	return out, nil
}

// ready reports whether every issuer's keys were fetched at least once.
func (k *keySets) ready() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, rs := range k.sets {
		if !rs.set.Ready() {
			return false
		}
	}
	return true
}

// buildPolicy turns a validated configuration into the decision snapshot.
// Each snapshot gets a fresh verified-token cache from caches.
func buildPolicy(ctx context.Context, cfg *config.Config, sets *keySets, caches *tokenCaches, limiter ratelimit.Limiter, auth *authState) (*authz.Policy, error) {
	keySources, err := sets.sync(ctx, cfg.Issuers)
	if err != nil {
		return nil, err
	}
	issuers := make([]token.Issuer, len(cfg.Issuers))
	for i, is := range cfg.Issuers {
		issuers[i] = token.Issuer{
			Issuer: is.Issuer, Audiences: is.Audiences, Algorithms: is.Algorithms,
			Types: is.Types, Keys: keySources[i],
		}
	}
	v, err := token.NewVerifier(auth.trustedIssuers(issuers), token.Options{ClockSkew: cfg.Auth.ClockSkew, Cache: caches.next(cfg.Cache)})
	if err != nil {
		return nil, err
	}
	routes := make([]policy.Route, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = policy.Route{PathPrefix: r.PathPrefix, Path: r.Path, Methods: r.Methods,
			Scopes: slices.Clone(r.Scopes), Model: r.Model, Cost: r.Cost}
	}
	limits, err := buildLimits(cfg, limiter)
	if err != nil {
		return nil, err
	}
	if limits != nil {
		limits.Registry = auth.registryTier()
	}
	return &authz.Policy{
		Revocations:       auth.revocations,
		Limits:            limits,
		Verifier:          v,
		Routes:            policy.New(routes, cfg.NoRoute == config.NoRouteAuthenticated),
		MaxHeaderBytes:    cfg.Auth.MaxHeaderBytes,
		KeepAuthorization: cfg.Auth.KeepAuthorization,
	}, nil
}

// tokenCaches gives each policy snapshot a fresh verified-token cache (claims verified under
// old issuer settings must not outlive a reload that tightened them) while exporting hit and
// miss counts that stay monotonic across reloads, as
// torchgate_authz_token_cache_requests_total{result}.
type tokenCaches struct {
	mu      sync.Mutex
	current *tokencache.Cache[*token.Claims] // guarded by mu
	retired [2]uint64                        // hits, misses of replaced caches; guarded by mu
}

func newTokenCaches(reg prometheus.Registerer) *tokenCaches {
	tc := &tokenCaches{}
	for i, result := range []string{"hit", "miss"} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "torchgate_authz_token_cache_requests_total",
			Help:        "Verified-token cache lookups by result (hit/miss).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(tc.stats()[i]) }))
	}
	return tc
}

// next returns a new cache for a new snapshot, or nil when caching is off.
func (tc *tokenCaches) next(c config.Cache) *tokencache.Cache[*token.Claims] {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.current != nil {
		h, m := tc.current.Stats()
		tc.retired[0] += h
		tc.retired[1] += m
		tc.current = nil
	}
	if c.Size > 0 {
		tc.current = tokencache.New[*token.Claims](c.Size, c.MaxTTL)
	}
	return tc.current
}

// evict drops cached tokens that a revocation kills: the token with jti, or every token of
// clientID issued before watermark. It is the revocation store's OnRevoke hook.
func (tc *tokenCaches) evict(jti, clientID string, watermark time.Time) {
	tc.mu.Lock()
	cache := tc.current
	tc.mu.Unlock()
	if cache == nil {
		return
	}
	cache.EvictIf(func(c *token.Claims) bool {
		return (jti != "" && c.JTI == jti) || (clientID != "" && c.ClientID == clientID && c.IssuedAt.Before(watermark))
	})
}

func (tc *tokenCaches) stats() [2]uint64 {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	out := tc.retired
	if tc.current != nil {
		h, m := tc.current.Stats()
		out[0] += h
		out[1] += m
	}
	return out
}
