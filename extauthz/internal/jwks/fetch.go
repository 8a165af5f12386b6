package jwks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// getBody GETs uri and returns the body (at most MaxBodyBytes) and the response header.
func (s *Set) getBody(ctx context.Context, uri string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%w: %s answered %d", ErrFetch, uri, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading %s: %w", ErrFetch, uri, err)
	}
	if len(body) > MaxBodyBytes {
		return nil, nil, fmt.Errorf("%w: %s body exceeds %d bytes", ErrFetch, uri, MaxBodyBytes)
	}
	return body, resp.Header, nil
}

// discover finds the JWKS URI in the issuer's metadata: OpenID Connect Discovery first, then
// RFC 8414 authorization server metadata.
func (s *Set) discover(ctx context.Context) (string, error) {
	var errs []error
	for _, u := range metadataURLs(s.opts.Issuer) {
		uri, err := s.jwksURIFrom(ctx, u)
		if err == nil {
			return uri, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("%w: %v", ErrDiscovery, errs)
}

// metadataURLs lists the metadata documents to try for issuer. OpenID Connect Discovery 1.0 §4
// appends the well-known path to the issuer; RFC 8414 §3.1 inserts it between the host and the
// issuer's path.
func metadataURLs(issuer string) []string {
	oidc := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	u, err := url.Parse(issuer)
	if err != nil {
		return []string{oidc}
	}
	u.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return []string{oidc, u.String()}
}

// jwksURIFrom reads one metadata document and returns its jwks_uri after checking its issuer.
func (s *Set) jwksURIFrom(ctx context.Context, metadataURL string) (string, error) {
	body, _, err := s.getBody(ctx, metadataURL)
	if err != nil {
		return "", err
	}
	var md struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return "", fmt.Errorf("%s: %w", metadataURL, err)
	}
	// "The issuer value returned MUST be identical to the Issuer URL that was used as the
	// prefix to /.well-known/openid-configuration" (OpenID Connect Discovery 1.0 §4.3).
	if md.Issuer != s.opts.Issuer {
		return "", fmt.Errorf("%s: metadata issuer %q does not match %q", metadataURL, md.Issuer, s.opts.Issuer)
	}
	p, err := url.Parse(md.JWKSURI)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return "", fmt.Errorf("%s: jwks_uri %q is not an absolute http(s) URL", metadataURL, md.JWKSURI)
	}
	return md.JWKSURI, nil
}

// refreshInterval turns a Cache-Control header into the time until the next refresh: max-age
// clamped into [MinRefresh, MaxRefresh]; no-store or no-cache count as max-age=0; without
// either, DefaultRefresh capped at MaxRefresh and raised to MinRefresh.
func (s *Set) refreshInterval(cacheControl string) time.Duration {
	d := min(DefaultRefresh, s.opts.MaxRefresh)
	for dir := range strings.SplitSeq(cacheControl, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(dir), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			d = 0
		case "max-age":
			if secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && secs >= 0 {
				d = time.Duration(min(secs, int64(s.opts.MaxRefresh/time.Second)+1)) * time.Second
			}
		}
	}
	return min(max(d, s.opts.MinRefresh), s.opts.MaxRefresh)
}
