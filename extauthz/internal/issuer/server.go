package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/audit"
	"github.com/torchgate/torchgate/extauthz/internal/clients"
	"github.com/torchgate/torchgate/extauthz/internal/jwks"
	"github.com/torchgate/torchgate/extauthz/internal/revocation"
	"github.com/torchgate/torchgate/extauthz/internal/signing"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// Endpoint paths, served on the HTTP listener.
const (
	PathToken         = "/oauth2/token"
	PathIntrospect    = "/oauth2/introspect"
	PathRevoke        = "/oauth2/revoke"
	PathJWKS          = "/.well-known/jwks.json"
	PathASMetadata    = "/.well-known/oauth-authorization-server"
	PathOIDCDiscovery = "/.well-known/openid-configuration"
)

// Defaults applied by New.
const (
	DefaultTTL                  = 15 * time.Minute
	DefaultMaxTTL               = time.Hour
	DefaultClockSkew            = 30 * time.Second
	DefaultMaxAssertionLifetime = 10 * time.Minute
	DefaultAuthFailureBurst     = 10
	DefaultAuthFailureRefill    = 6 * time.Second
	DefaultMaxClientSeries      = 100
	maxLimiterKeys              = 100_000
)

// TokenType is the typ header of issued tokens (RFC 9068 §2.1).
const TokenType = "at+jwt"

// Options configure a Server. A zero field takes its default; URL, Audience, Clients, Keys and
// Revocations are required.
type Options struct {
	// URL is the issuer identifier, the "iss" of every token; the endpoint URLs are built from it.
	URL string
	// Audience is the "aud" of tokens whose client asks for none.
	Audience string
	// TTL is the token lifetime; default 15m. It may not exceed MaxTTL.
	TTL time.Duration
	// MaxTTL is the longest token lifetime; default 1h. Key retirement and revocation retention
	// must cover it.
	MaxTTL time.Duration
	// ClockSkew is the leeway on assertion times; default 30s.
	ClockSkew time.Duration
	// MaxAssertionLifetime refuses private_key_jwt assertions whose exp lies further ahead,
	// which bounds the replay cache; default 10m.
	MaxAssertionLifetime time.Duration
	// Clients is the client registry.
	Clients *clients.Registry
	// Keys are the signing keys.
	Keys *signing.Keys
	// Revocations receives RFC 7009 revocations and is consulted by introspection.
	Revocations *revocation.Store
	// Redis, when set, holds the assertion replay cache shared by replicas; nil keeps it in memory.
	Redis redis.UniversalClient
	// Registerer receives the issuer's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// MaxClientSeries caps the client_id series of the issued-tokens counter; default 100.
	MaxClientSeries int
	// AuthFailureBurst and AuthFailureRefill shape the limit on failed client authentications
	// per client id and per source address: Burst failures, then one per Refill; defaults 10, 6s.
	AuthFailureBurst  int
	AuthFailureRefill time.Duration
	// Audit receives one line per token issued or refused and per revocation; nil logs none.
	Audit *audit.Logger
	// Logger receives operational errors; default discards.
	Logger *slog.Logger
	// HTTPClient fetches clients' jwks_uri documents; default: package jwks's client.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// ErrConfig reports invalid Options.
var ErrConfig = errors.New("issuer: invalid options")

// Server is the authorization server. Its handlers are safe for concurrent use.
type Server struct {
	opts     Options
	tokenURL string
	metadata map[string]any
	limiter  *failureLimiter
	replay   replayCache
	metrics  *metrics

	ctx    context.Context // lives until Close; bounds background jwks_uri refreshes
	cancel context.CancelFunc

	mu      sync.Mutex
	uriKeys map[string]*jwks.Set // client jwks_uri -> keys; guarded by mu
}

// New validates opts and returns a Server. Call Close when done.
func New(opts Options) (*Server, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: URL must be an absolute http(s) URL without query or fragment", ErrConfig)
	}
	opts.URL = strings.TrimSuffix(opts.URL, "/")
	if opts.Audience == "" || opts.Clients == nil || opts.Keys == nil || opts.Revocations == nil {
		return nil, fmt.Errorf("%w: Audience, Clients, Keys and Revocations are required", ErrConfig)
	}
	setDefault(&opts.TTL, DefaultTTL)
	setDefault(&opts.MaxTTL, DefaultMaxTTL)
	setDefault(&opts.ClockSkew, DefaultClockSkew)
	setDefault(&opts.MaxAssertionLifetime, DefaultMaxAssertionLifetime)
	setDefault(&opts.AuthFailureRefill, DefaultAuthFailureRefill)
	if opts.TTL > opts.MaxTTL {
		return nil, fmt.Errorf("%w: TTL %v exceeds MaxTTL %v", ErrConfig, opts.TTL, opts.MaxTTL)
	}
	if opts.AuthFailureBurst <= 0 {
		opts.AuthFailureBurst = DefaultAuthFailureBurst
	}
	if opts.MaxClientSeries <= 0 {
		opts.MaxClientSeries = DefaultMaxClientSeries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer, opts.MaxClientSeries)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, tokenURL: opts.URL + PathToken, metrics: m,
		limiter: newFailureLimiter(opts.AuthFailureBurst, opts.AuthFailureRefill, maxLimiterKeys, opts.Now),
		uriKeys: make(map[string]*jwks.Set)}
	if opts.Redis != nil {
		s.replay = redisReplay{rdb: opts.Redis}
	} else {
		s.replay = newMemoryReplay(opts.Now)
	}
	s.metadata = s.buildMetadata()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Close stops the background refresh of clients' jwks_uri key sets.
func (s *Server) Close() { s.cancel() }

// Register mounts the issuer's endpoints on mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc(PathToken, s.handleToken)
	mux.HandleFunc(PathIntrospect, s.handleIntrospect)
	mux.HandleFunc(PathRevoke, s.handleRevoke)
	mux.HandleFunc("GET "+PathJWKS, s.handleJWKS)
	mux.HandleFunc("GET "+PathASMetadata, s.handleMetadata)
	mux.HandleFunc("GET "+PathOIDCDiscovery, s.handleMetadata)
}

// KeySource returns the issuer's own verification keys as a token.KeySource, for adding the
// issuer to the verifier of the decision service without fetching its JWKS over HTTP.
func (s *Server) KeySource() token.KeySource { return s.opts.Keys }

// TrustedIssuer returns the token.Issuer policy for the issuer's own tokens: typ at+jwt
// required, the issuer's signing algorithms, and the given accepted audiences.
func (s *Server) TrustedIssuer(audiences []string) token.Issuer {
	return token.Issuer{Issuer: s.opts.URL, Audiences: audiences, Algorithms: []string{signing.ES256, signing.RS256},
		Types: []string{TokenType}, Keys: s.opts.Keys}
}

// sourceAddr is the request's peer address without port. X-Forwarded-For is not trusted.
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// keysForURI returns the (shared, lazily created) key set of a client's jwks_uri.
func (s *Server) keysForURI(uri string) (*jwks.Set, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ks, ok := s.uriKeys[uri]; ok {
		return ks, nil
	}
	ks, err := jwks.New(jwks.Options{URI: uri, Issuer: uri, HTTPClient: s.opts.HTTPClient, Now: s.opts.Now,
		Logger: s.opts.Logger})
	if err != nil {
		return nil, err
	}
	ks.Start(s.ctx)
	s.uriKeys[uri] = ks
	return ks, nil
}
