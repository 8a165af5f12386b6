// Package config reads and validates the extauthz configuration file.
//
// The file is YAML and is decoded strictly: an unknown key is an error, so a typo never silently
// turns a limit or a check off. A zero value in any field means its documented default; Load
// fills the defaults in and validates the result, so the rest of the program reads typed,
// complete values and never re-parses strings.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole extauthz configuration.
type Config struct {
	Listen   Listen   `yaml:"listen"`
	Issuers  []Issuer `yaml:"issuers"`
	Routes   []Route  `yaml:"routes"`
	NoRoute  string   `yaml:"no_route"` // "deny" (default) or "authenticated"
	Auth     Auth     `yaml:"auth"`
	Cache    Cache    `yaml:"token_cache"`
	Audit    Audit    `yaml:"audit"`
	Metrics  Metrics  `yaml:"metrics"`
	LogLevel string   `yaml:"log_level"` // debug, info (default), warn, error
	// DebugPprof serves net/http/pprof under /debug/pprof/ on the HTTP listener (off by default:
	// profiles reveal internals, so enable it only where that listener is private).
	DebugPprof bool `yaml:"debug_pprof"`

	// Issuer is the built-in OAuth2 authorization server for machine clients.
	Issuer OAuth2Issuer `yaml:"issuer"`

	// Rate limits and quotas. Without tiers nothing is limited.
	Redis       Redis             `yaml:"redis"`
	DefaultTier string            `yaml:"default_tier"`
	Tiers       map[string]Tier   `yaml:"tiers"`
	Clients     map[string]string `yaml:"clients"` // client id → tier, overriding every other source
}

// OAuth2Issuer configures the built-in OAuth2 authorization server, served on listen.http.
// When enabled, extauthz accepts its tokens without an issuers entry (typ at+jwt required).
type OAuth2Issuer struct {
	Enabled     bool          `yaml:"enabled"`
	URL         string        `yaml:"url"`           // the iss value; default http://<listen.http>
	Audience    string        `yaml:"audience"`      // aud when a client asks for none; default torchgate
	TokenTTL    time.Duration `yaml:"token_ttl"`     // default 15m
	MaxTokenTTL time.Duration `yaml:"max_token_ttl"` // default 1h
	KeysDir     string        `yaml:"keys_dir"`      // default ./keys (created with an ES256 key if empty)
	ClientsFile string        `yaml:"clients_file"`  // default ./clients.yaml
	SigningAlg  string        `yaml:"signing_alg"`   // algorithm of the first key: ES256 (default) or RS256
}

// Redis is the shared limiter state. Without a URL an in-process limiter serves one replica.
type Redis struct {
	URL      string        `yaml:"url"`      // redis://, rediss://, redis+sentinel://, redis+cluster://
	OnError  string        `yaml:"on_error"` // local (default) | deny
	Timeout  time.Duration `yaml:"timeout"`  // default 20ms per limiter call
	Replicas int           `yaml:"replicas"` // extauthz replicas sharing Redis; the local fallback divides limits by it
}

// Tier is one tier's limits: a rate with burst in cost units, calendar quotas keyed by window
// (minute, hour, day, month; UTC), and the priority passed to the worker.
type Tier struct {
	Rate     float64          `yaml:"rate"`
	Burst    int64            `yaml:"burst"`
	Quotas   map[string]int64 `yaml:"quotas"`
	Priority int              `yaml:"priority"`
}

// Listen holds the listener addresses and the optional TLS of the gRPC listener.
type Listen struct {
	GRPC    string `yaml:"grpc"` // default 127.0.0.1:9191
	HTTP    string `yaml:"http"` // default 127.0.0.1:9192
	GRPCTLS TLS    `yaml:"grpc_tls"`
}

// TLS configures TLS on a listener; with ClientCAFile set, clients must present a certificate
// signed by that CA (mTLS).
type TLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Issuer is one trusted token issuer.
type Issuer struct {
	Issuer             string        `yaml:"issuer"`
	JWKSURI            string        `yaml:"jwks_uri"`
	Audiences          []string      `yaml:"audiences"`
	Algorithms         []string      `yaml:"algorithms"`
	Types              []string      `yaml:"types"` // accepted JWT "typ" values; default JWT and at+jwt (or none)
	MinRefresh         time.Duration `yaml:"jwks_min_refresh"`
	MaxRefresh         time.Duration `yaml:"jwks_max_refresh"`
	UnknownKIDCooldown time.Duration `yaml:"unknown_kid_cooldown"`
}

// Route is one entry of the route table used when Envoy sends no context_extensions.
type Route struct {
	PathPrefix string   `yaml:"path_prefix"`
	Path       string   `yaml:"path"` // exact match; takes precedence over prefixes
	Methods    []string `yaml:"methods"`
	Scopes     []string `yaml:"scopes"`
	Model      string   `yaml:"model"`
	Cost       int64    `yaml:"cost"`
}

// Auth tunes the token checks and the allowed response.
type Auth struct {
	MaxHeaderBytes int           `yaml:"max_header_bytes"` // default 8192
	ClockSkew      time.Duration `yaml:"clock_skew"`       // default 30s
	// KeepAuthorization forwards the Authorization header upstream; by default it is removed.
	KeepAuthorization bool `yaml:"keep_authorization"`
}

// Cache sizes the verified-token cache.
type Cache struct {
	Size   int           `yaml:"size"`    // default 100000 entries; -1 disables the cache
	MaxTTL time.Duration `yaml:"max_ttl"` // default 5m; never longer than a token's remaining life
}

// Audit configures the per-decision audit log.
type Audit struct {
	Disabled bool   `yaml:"disabled"`
	Path     string `yaml:"path"`   // "" or "-" = stdout; otherwise a file opened for append
	Buffer   int    `yaml:"buffer"` // lines buffered before dropping; default 4096
}

// Metrics tunes the Prometheus series.
type Metrics struct {
	MaxClientSeries int `yaml:"max_client_series"` // default 100 named clients, the rest as "other"
}

// Defaults applied by Load.
const (
	DefaultGRPC            = "127.0.0.1:9191"
	DefaultHTTP            = "127.0.0.1:9192"
	DefaultMaxHeaderBytes  = 8 << 10
	DefaultClockSkew       = 30 * time.Second
	DefaultCacheSize       = 100000
	DefaultCacheMaxTTL     = 5 * time.Minute
	DefaultAuditBuffer     = 4096
	DefaultMaxClientSeries = 100
	maxConfigBytes         = 4 << 20
)

// Values of redis.on_error.
const (
	RedisOnErrorLocal = "local"
	RedisOnErrorDeny  = "deny"
)

// DefaultRedisTimeout bounds each limiter call to Redis.
const DefaultRedisTimeout = 20 * time.Millisecond

// QuotaWindows are the calendar windows a tier's quotas may use.
var QuotaWindows = []string{"minute", "hour", "day", "month"}

// Policy values for NoRoute.
const (
	NoRouteDeny          = "deny"
	NoRouteAuthenticated = "authenticated"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("config: invalid")

// Load reads, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := Parse(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes, defaults and validates a configuration document.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: read: %w", err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrInvalid, maxConfigBytes)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	setDefault(&c.Listen.GRPC, DefaultGRPC)
	setDefault(&c.Listen.HTTP, DefaultHTTP)
	setDefault(&c.NoRoute, NoRouteDeny)
	setDefault(&c.LogLevel, "info")
	setDefault(&c.Auth.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&c.Auth.ClockSkew, DefaultClockSkew)
	setDefault(&c.Cache.Size, DefaultCacheSize)
	setDefault(&c.Cache.MaxTTL, DefaultCacheMaxTTL)
	setDefault(&c.Audit.Buffer, DefaultAuditBuffer)
	setDefault(&c.Metrics.MaxClientSeries, DefaultMaxClientSeries)
	for i := range c.Routes {
		setDefault(&c.Routes[i].Cost, 1)
	}
	if c.Issuer.Enabled {
		setDefault(&c.Issuer.URL, "http://"+c.Listen.HTTP)
		setDefault(&c.Issuer.Audience, "torchgate")
		setDefault(&c.Issuer.TokenTTL, 15*time.Minute)
		setDefault(&c.Issuer.MaxTokenTTL, time.Hour)
		setDefault(&c.Issuer.KeysDir, "./keys")
		setDefault(&c.Issuer.ClientsFile, "./clients.yaml")
		setDefault(&c.Issuer.SigningAlg, "ES256")
	}
	setDefault(&c.Redis.OnError, RedisOnErrorLocal)
	setDefault(&c.Redis.Timeout, DefaultRedisTimeout)
	setDefault(&c.Redis.Replicas, 1)
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	for _, addr := range []struct{ key, v string }{{"listen.grpc", c.Listen.GRPC}, {"listen.http", c.Listen.HTTP}} {
		if _, _, err := net.SplitHostPort(addr.v); err != nil {
			bad("%s: %q is not host:port", addr.key, addr.v)
		}
	}
	if t := c.Listen.GRPCTLS; t.Enabled() && (t.CertFile == "" || t.KeyFile == "") {
		bad("listen.grpc_tls: cert_file and key_file are both required")
	}
	if c.NoRoute != NoRouteDeny && c.NoRoute != NoRouteAuthenticated {
		bad("no_route: %q is not %q or %q", c.NoRoute, NoRouteDeny, NoRouteAuthenticated)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	if c.Auth.MaxHeaderBytes < 64 {
		bad("auth.max_header_bytes: %d is below 64", c.Auth.MaxHeaderBytes)
	}
	if c.Auth.ClockSkew < 0 || c.Auth.ClockSkew > 10*time.Minute {
		bad("auth.clock_skew: %s is outside 0..10m", c.Auth.ClockSkew)
	}
	if c.Cache.Size < -1 {
		bad("token_cache.size: %d is below -1", c.Cache.Size)
	}
	seen := map[string]bool{}
	for i, is := range c.Issuers {
		where := "issuers[" + strconv.Itoa(i) + "]"
		switch {
		case is.Issuer == "":
			bad("%s.issuer is required", where)
		case seen[is.Issuer]:
			bad("%s.issuer %q is listed twice", where, is.Issuer)
		}
		seen[is.Issuer] = true
		if len(is.Audiences) == 0 {
			bad("%s.audiences: at least one audience is required", where)
		}
		for _, alg := range is.Algorithms {
			if !asymmetricAlgorithms[alg] {
				bad("%s.algorithms: %q is not an allowed asymmetric JWS algorithm", where, alg)
			}
		}
		if is.MinRefresh < 0 || is.MaxRefresh < 0 || (is.MaxRefresh > 0 && is.MinRefresh > is.MaxRefresh) {
			bad("%s: jwks_min_refresh must not exceed jwks_max_refresh", where)
		}
	}
	for i, r := range c.Routes {
		where := "routes[" + strconv.Itoa(i) + "]"
		if (r.PathPrefix == "") == (r.Path == "") {
			bad("%s: exactly one of path_prefix and path is required", where)
		}
		if len(r.Scopes) == 0 {
			bad("%s.scopes: at least one scope is required (deny by default)", where)
		}
		if r.Cost < 1 {
			bad("%s.cost: %d is below 1", where, r.Cost)
		}
	}
	c.validateLimits(bad)
	c.validateIssuer(bad)
	return errors.Join(errs...)
}

func (c *Config) validateIssuer(bad func(string, ...any)) {
	is := c.Issuer
	if !is.Enabled {
		return
	}
	if u, err := url.Parse(is.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("issuer.url: %q is not an http(s) URL without query or fragment (RFC 8414 §2)", is.URL)
	}
	if is.TokenTTL <= 0 || is.TokenTTL > is.MaxTokenTTL {
		bad("issuer.token_ttl: %s must be positive and at most max_token_ttl (%s)", is.TokenTTL, is.MaxTokenTTL)
	}
	if is.SigningAlg != "ES256" && is.SigningAlg != "RS256" {
		bad("issuer.signing_alg: %q is not ES256 or RS256", is.SigningAlg)
	}
	for _, other := range c.Issuers {
		if other.Issuer == is.URL {
			bad("issuers: %q is the built-in issuer's url; it trusts itself without an entry", is.URL)
		}
	}
}

func (c *Config) validateLimits(bad func(string, ...any)) {
	if o := c.Redis.OnError; o != RedisOnErrorLocal && o != RedisOnErrorDeny {
		bad("redis.on_error: %q is not %q or %q", o, RedisOnErrorLocal, RedisOnErrorDeny)
	}
	if c.Redis.Timeout < 0 || c.Redis.Timeout > 10*time.Second {
		bad("redis.timeout: %s is outside 0..10s", c.Redis.Timeout)
	}
	if c.Redis.Replicas < 1 {
		bad("redis.replicas: %d is below 1", c.Redis.Replicas)
	}
	for name, t := range c.Tiers {
		if !(t.Rate > 0) || t.Rate > 1e6 {
			bad("tiers.%s.rate: %v must be above 0 and at most 1e6 per second", name, t.Rate)
		}
		if t.Burst < 1 {
			bad("tiers.%s.burst: %d is below 1", name, t.Burst)
		}
		for w, limit := range t.Quotas {
			if !slices.Contains(QuotaWindows, w) {
				bad("tiers.%s.quotas: window %q is not one of %v", name, w, QuotaWindows)
			}
			if limit < 1 {
				bad("tiers.%s.quotas.%s: %d is below 1", name, w, limit)
			}
		}
	}
	switch {
	case len(c.Tiers) == 0 && c.DefaultTier != "":
		bad("default_tier: %q is set but no tiers are defined", c.DefaultTier)
	case len(c.Tiers) > 0 && c.DefaultTier == "":
		bad("default_tier: required when tiers are defined")
	case len(c.Tiers) > 0:
		if _, ok := c.Tiers[c.DefaultTier]; !ok {
			bad("default_tier: %q is not a defined tier", c.DefaultTier)
		}
	}
	for id, tier := range c.Clients {
		if _, ok := c.Tiers[tier]; !ok {
			bad("clients.%s: tier %q is not defined", id, tier)
		}
	}
}

// asymmetricAlgorithms are the JWS algorithms an issuer may allow. HMAC and "none" are absent on
// purpose: a shared-secret algorithm lets anyone holding the (public) key forge tokens.
var asymmetricAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}
