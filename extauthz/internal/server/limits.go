package server

import (
	"fmt"
	"log/slog"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/authz"
	"github.com/torchgate/torchgate/extauthz/internal/config"
	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
)

// newLimiter builds the process's limiter: Redis-backed when redis.url is set (shared by all
// replicas), else in-process. The Redis client is returned so it can be closed on shutdown.
// Redis settings change only on restart; tiers change on every reload.
func newLimiter(c config.Redis, reg prometheus.Registerer, logger *slog.Logger) (ratelimit.Limiter, redis.UniversalClient, error) {
	if c.URL == "" {
		return ratelimit.NewLocal(ratelimit.LocalOptions{Registerer: reg, Logger: logger}), nil, nil
	}
	client, err := ratelimit.NewClientTimeout(c.URL, c.Timeout)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	ratelimit.LogClientTo(logger)
	l := ratelimit.NewRedis(client, ratelimit.RedisOptions{
		Timeout: c.Timeout, OnError: c.OnError, Replicas: c.Replicas, Registerer: reg, Logger: logger,
	})
	return l, client, nil
}

// buildLimits turns the tiers of a configuration into the limits step, or nil without tiers.
func buildLimits(cfg *config.Config, limiter ratelimit.Limiter) (*authz.Limits, error) {
	if len(cfg.Tiers) == 0 {
		return nil, nil
	}
	l := &authz.Limits{Limiter: limiter, Tiers: make(map[string]*ratelimit.Tier, len(cfg.Tiers)),
		Overrides: make(map[string]*ratelimit.Tier, len(cfg.Clients))}
	for name, t := range cfg.Tiers {
		tier := &ratelimit.Tier{Name: name, Rate: t.Rate, Burst: t.Burst, Priority: t.Priority}
		for w, limit := range t.Quotas {
			tier.Quotas = append(tier.Quotas, ratelimit.Quota{Window: ratelimit.Window(w), Limit: limit})
		}
		// Shortest window first, so the RateLimit fields list quotas in a stable order.
		sort.Slice(tier.Quotas, func(i, j int) bool {
			return windowRank(tier.Quotas[i].Window) < windowRank(tier.Quotas[j].Window)
		})
		if err := tier.Validate(); err != nil {
			return nil, fmt.Errorf("tiers.%s: %w", name, err)
		}
		l.Tiers[name] = tier
	}
	l.Default = l.Tiers[cfg.DefaultTier]
	for id, name := range cfg.Clients {
		l.Overrides[id] = l.Tiers[name]
	}
	return l, nil
}

func windowRank(w ratelimit.Window) int {
	for i, name := range config.QuotaWindows {
		if string(w) == name {
			return i
		}
	}
	return len(config.QuotaWindows)
}
