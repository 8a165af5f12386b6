package jwks

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultHTTPTimeout        = 5 * time.Second
	DefaultMinRefresh         = 5 * time.Minute
	DefaultMaxRefresh         = 60 * time.Minute
	DefaultUnknownKIDCooldown = 30 * time.Second
	// DefaultRefresh is the refresh interval used when the JWKS response has no max-age; it is
	// capped at MaxRefresh and raised to MinRefresh.
	DefaultRefresh = 15 * time.Minute
	// MaxBodyBytes caps a JWKS or metadata response body.
	MaxBodyBytes = 1 << 20
)

// Options configure a Set. A zero field takes its default.
type Options struct {
	// URI is the JWKS URL. When empty, it is discovered from Issuer's metadata.
	URI string
	// Issuer is the issuer identifier; required for discovery and used in log lines.
	Issuer string
	// HTTPClient fetches metadata and keys; default: a client with a 5s timeout.
	HTTPClient *http.Client
	// MinRefresh and MaxRefresh clamp the Cache-Control max-age of the JWKS response; defaults
	// 5m and 60m.
	MinRefresh, MaxRefresh time.Duration
	// UnknownKIDCooldown is how long after a refetch an unknown kid is refused without another
	// fetch; default 30s.
	UnknownKIDCooldown time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives fetch failures and skipped keys; default discards.
	Logger *slog.Logger
	// OnFetch, when set, is called after every JWKS fetch attempt with "ok" or "error".
	OnFetch func(result string)
}

// withDefaults validates o and fills in its zero fields.
func (o Options) withDefaults() (Options, error) {
	if o.URI == "" && o.Issuer == "" {
		return o, fmt.Errorf("%w: URI or Issuer is required", ErrConfig)
	}
	for _, u := range []string{o.URI, o.Issuer} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return o, fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrConfig, u)
		}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if o.MinRefresh <= 0 {
		o.MinRefresh = DefaultMinRefresh
	}
	if o.MaxRefresh <= 0 {
		o.MaxRefresh = DefaultMaxRefresh
	}
	if o.MinRefresh > o.MaxRefresh {
		return o, fmt.Errorf("%w: MinRefresh %v exceeds MaxRefresh %v", ErrConfig, o.MinRefresh, o.MaxRefresh)
	}
	if o.UnknownKIDCooldown <= 0 {
		o.UnknownKIDCooldown = DefaultUnknownKIDCooldown
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnFetch == nil {
		o.OnFetch = func(string) {}
	}
	return o, nil
}
