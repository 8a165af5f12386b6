package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/audit"
	"github.com/torchgate/torchgate/extauthz/internal/clients"
	"github.com/torchgate/torchgate/extauthz/internal/config"
	"github.com/torchgate/torchgate/extauthz/internal/issuer"
	"github.com/torchgate/torchgate/extauthz/internal/revocation"
	"github.com/torchgate/torchgate/extauthz/internal/signing"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// minRevocationRetention is how long revoked jtis are kept when no issuer bounds token
// lifetimes: tokens from external issuers may live this long.
const minRevocationRetention = 24 * time.Hour

// builtin is the OAuth2 authorization server running in this process, with the registry and
// keys it serves from. Its settings change only on restart.
type builtin struct {
	srv      *issuer.Server
	registry *clients.Registry
	keys     *signing.Keys
	audience string
}

// authState is what authentication shares across reloads: the revocation store (always; fed
// by Redis when configured) and the built-in issuer (when enabled).
type authState struct {
	revocations *revocation.Store
	builtin     *builtin // nil when the issuer is disabled
}

// newAuthState opens the issuer's registry and keys (when enabled) and the revocation store.
// onRevoke evicts revoked tokens from the verified-token cache.
func newAuthState(cfg config.OAuth2Issuer, rdb redis.UniversalClient, reg prometheus.Registerer,
	al *audit.Logger, logger *slog.Logger, maxClients int, onRevoke func(jti, clientID string, wm time.Time)) (*authState, error) {
	opts := revocation.Options{Redis: rdb, MaxTokenLifetime: max(cfg.MaxTokenTTL, minRevocationRetention),
		OnRevoke: onRevoke, Logger: logger}
	if !cfg.Enabled {
		return &authState{revocations: revocation.New(opts)}, nil
	}
	registry, err := clients.Open(cfg.ClientsFile)
	if err != nil {
		return nil, fmt.Errorf("issuer.clients_file: %w", err)
	}
	keys, err := signing.Open(cfg.KeysDir, signing.Options{Algorithm: cfg.SigningAlg})
	if err != nil {
		return nil, fmt.Errorf("issuer.keys_dir: %w", err)
	}
	opts.Clients, opts.Issuer = registry, cfg.URL
	store := revocation.New(opts)
	srv, err := issuer.New(issuer.Options{
		URL: cfg.URL, Audience: cfg.Audience, TTL: cfg.TokenTTL, MaxTTL: cfg.MaxTokenTTL,
		Clients: registry, Keys: keys, Revocations: store, Redis: rdb,
		Registerer: reg, MaxClientSeries: maxClients, Audit: al, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	return &authState{revocations: store, builtin: &builtin{srv: srv, registry: registry, keys: keys, audience: cfg.Audience}}, nil
}

// run starts the background work: revocation sync, and registry and key reloads.
func (a *authState) run(ctx context.Context, logger *slog.Logger) {
	go func() {
		if err := a.revocations.Run(ctx); err != nil && ctx.Err() == nil {
			logger.Error("revocation sync stopped", "err", err)
		}
	}()
	if b := a.builtin; b != nil {
		logErr := func(what string) func(error) {
			return func(err error) { logger.Error(what+" reload failed; keeping the previous one", "err", err) }
		}
		go b.registry.Watch(ctx, 0, logErr("client registry"))
		go b.keys.Watch(ctx, 0, logErr("signing keys"))
	}
}

// register mounts the issuer's endpoints on the HTTP mux.
func (a *authState) register(mux *http.ServeMux) {
	if a.builtin != nil {
		a.builtin.srv.Register(mux)
	}
}

func (a *authState) close() {
	if a.builtin != nil {
		a.builtin.srv.Close()
	}
}

// trustedIssuers appends the built-in issuer, which trusts its own tokens for its audience.
func (a *authState) trustedIssuers(issuers []token.Issuer) []token.Issuer {
	if a.builtin == nil {
		return issuers
	}
	return append(issuers, a.builtin.srv.TrustedIssuer([]string{a.builtin.audience}))
}

// registryTier names the tier the client registry gives a client ("" for none).
func (a *authState) registryTier() func(string) string {
	if a.builtin == nil {
		return nil
	}
	return func(id string) string {
		if c, ok := a.builtin.registry.Lookup(id); ok {
			return c.Tier
		}
		return ""
	}
}
