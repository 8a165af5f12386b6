package revocation

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// Reasons returned by Revoked.
const (
	ReasonRevoked        = "revoked"         // the token's jti was revoked
	ReasonClientRevoked  = "client_revoked"  // the token predates its client's watermark
	ReasonClientDisabled = "client_disabled" // the registry disables the token's client
)

// DefaultMaxTokenLifetime bounds how long a revocation must be kept when the token's own
// lifetime is unknown (a client watermark, a jti revoked without its exp).
const DefaultMaxTokenLifetime = 24 * time.Hour

// pruneInterval is how often Run drops entries that no longer matter.
const pruneInterval = time.Minute

// ErrInvalid reports an empty jti or client id.
var ErrInvalid = errors.New("revocation: empty jti or client id")

// ClientState is the client registry's view of a client; *clients.Registry implements it.
type ClientState interface {
	Disabled(clientID string) bool
	NotBefore(clientID string) time.Time
}

// Options configure a Store. A zero field takes its default.
type Options struct {
	// Redis, when set, shares revocations between replicas (see the package doc).
	Redis redis.UniversalClient
	// Clients, when set, adds the registry's disabled flags and watermarks for tokens of Issuer.
	Clients ClientState
	// Issuer is the iss of the built-in issuer, whose tokens Clients applies to.
	Issuer string
	// MaxTokenLifetime is the longest lifetime of any accepted token; default 24h.
	MaxTokenLifetime time.Duration
	// OnRevoke, when set, is called after every revocation applied, local or from another
	// replica, with either a jti or a client watermark; use it to evict cached tokens.
	OnRevoke func(jti, clientID string, watermark time.Time)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives Redis failures; default discards.
	Logger *slog.Logger
}

// Store holds the revocations. Create it with New.
type Store struct {
	opts Options

	mu         sync.RWMutex
	jtis       map[string]time.Time // jti -> exp; guarded by mu
	watermarks map[string]time.Time // client id -> not before; guarded by mu
}

// New returns an empty Store. Call Run to receive other replicas' revocations.
func New(opts Options) *Store {
	if opts.MaxTokenLifetime <= 0 {
		opts.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{opts: opts, jtis: make(map[string]time.Time), watermarks: make(map[string]time.Time)}
}

// Revoked reports whether c is revoked, and why. It never does I/O.
func (s *Store) Revoked(c *token.Claims) (reason string, revoked bool) {
	s.mu.RLock()
	_, jti := s.jtis[c.JTI]
	wm := s.watermarks[c.ClientID]
	s.mu.RUnlock()
	if jti && c.JTI != "" {
		return ReasonRevoked, true
	}
	if s.opts.Clients != nil && c.Issuer == s.opts.Issuer {
		if s.opts.Clients.Disabled(c.ClientID) {
			return ReasonClientDisabled, true
		}
		if nb := s.opts.Clients.NotBefore(c.ClientID); nb.After(wm) {
			wm = nb
		}
	}
	if !wm.IsZero() && (c.IssuedAt.IsZero() || c.IssuedAt.Before(wm)) {
		return ReasonClientRevoked, true
	}
	return "", false
}

// RevokeJTI revokes the token with jti until exp (a zero exp means now + MaxTokenLifetime).
// clientID is recorded for the audit trail and the OnRevoke hook and may be empty. The
// revocation holds locally even when publishing to Redis fails; the error says so.
func (s *Store) RevokeJTI(ctx context.Context, jti, clientID string, exp time.Time) error {
	if jti == "" {
		return ErrInvalid
	}
	if exp.IsZero() {
		exp = s.opts.Now().Add(s.opts.MaxTokenLifetime)
	}
	s.applyJTI(jti, clientID, exp)
	if s.opts.Redis == nil {
		return nil
	}
	return s.publish(ctx, message{Kind: kindJTI, ID: jti, Client: clientID, Unix: exp.Unix()}, exp.Sub(s.opts.Now()))
}

// RevokeClient revokes every token of clientID issued before watermark (a zero watermark
// means now). Like RevokeJTI it holds locally even when Redis fails.
func (s *Store) RevokeClient(ctx context.Context, clientID string, watermark time.Time) error {
	if clientID == "" {
		return ErrInvalid
	}
	if watermark.IsZero() {
		watermark = s.opts.Now()
	}
	s.applyClient(clientID, watermark)
	if s.opts.Redis == nil {
		return nil
	}
	return s.publish(ctx, message{Kind: kindClient, ID: clientID, Unix: watermark.UnixNano()},
		watermark.Add(s.opts.MaxTokenLifetime).Sub(s.opts.Now()))
}

// applyJTI records a jti revocation and calls the hook.
func (s *Store) applyJTI(jti, clientID string, exp time.Time) {
	if !exp.After(s.opts.Now()) {
		return // already expired: nothing to revoke
	}
	s.mu.Lock()
	old, had := s.jtis[jti]
	if !had || exp.After(old) {
		s.jtis[jti] = exp
	}
	s.mu.Unlock()
	if !had && s.opts.OnRevoke != nil {
		s.opts.OnRevoke(jti, clientID, time.Time{})
	}
}

// applyClient raises a client's watermark (never lowers it) and calls the hook.
func (s *Store) applyClient(clientID string, wm time.Time) {
	if !wm.Add(s.opts.MaxTokenLifetime).After(s.opts.Now()) {
		return
	}
	s.mu.Lock()
	old := s.watermarks[clientID]
	raised := wm.After(old)
	if raised {
		s.watermarks[clientID] = wm
	}
	s.mu.Unlock()
	if raised && s.opts.OnRevoke != nil {
		s.opts.OnRevoke("", clientID, wm)
	}
}

// prune drops the entries that can no longer match a live token.
func (s *Store) prune() {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for jti, exp := range s.jtis {
		if !exp.After(now) {
			delete(s.jtis, jti)
		}
	}
	for id, wm := range s.watermarks {
		if !wm.Add(s.opts.MaxTokenLifetime).After(now) {
			delete(s.watermarks, id)
		}
	}
}

// Len returns the number of revoked jtis and client watermarks held.
func (s *Store) Len() (jtis, clients int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.jtis), len(s.watermarks)
}

// Run prunes expired entries and, with Redis, applies other replicas' revocations (see the
// package doc) until ctx is done. It returns nil when ctx ends.
func (s *Store) Run(ctx context.Context) error {
	go func() {
		t := time.NewTicker(pruneInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.prune()
			}
		}
	}()
	if s.opts.Redis == nil {
		<-ctx.Done()
		return nil
	}
	return s.subscribe(ctx)
}
