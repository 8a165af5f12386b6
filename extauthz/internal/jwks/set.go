package jwks

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"golang.org/x/sync/singleflight"
)

// initialRetry is the first backoff after a failed background fetch; it doubles up to
// MinRefresh.
const initialRetry = time.Second

// Set is one issuer's key set, kept fresh by Start and read by LookupKey. Create it with New.
type Set struct {
	opts       Options
	retryDelay time.Duration // first backoff step; a field so tests can shorten it
	flight     singleflight.Group
	startOnce  sync.Once

	mu sync.RWMutex
	// ring holds the last good keys; nil until the first successful fetch. Guarded by mu.
	ring *keyring
	// uri is the JWKS URI, discovered on first use when Options.URI is empty. Guarded by mu.
	uri string
	// kidRefetchAt is when the last unknown-kid refetch started. Guarded by mu.
	kidRefetchAt time.Time
}

// fetchResult is what one collapsed fetch reports to every caller that waited on it.
type fetchResult struct {
	next    time.Duration // time until the next background refresh
	skipped bool          // an unknown-kid refetch refused during the cooldown
}

// New validates opts and returns a Set that holds no keys yet; call Start to fetch them.
func New(opts Options) (*Set, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Set{opts: o, retryDelay: initialRetry, uri: o.URI}, nil
}

// Start fetches the keys at once in a new goroutine and then refreshes them in the background
// until ctx is done, retrying failures with backoff. It returns immediately; Ready reports when
// the first fetch has succeeded. Calls after the first do nothing.
func (s *Set) Start(ctx context.Context) {
	s.startOnce.Do(func() { go s.run(ctx) })
}

// Ready reports whether the keys have been fetched at least once.
func (s *Set) Ready() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ring != nil
}

// LookupKey returns the public key with the given kid (see the package doc for tokens without
// a kid). An unknown kid causes at most one collapsed refetch per cooldown; when the kid is
// still unknown the error wraps ErrUnknownKID, and when the keys were never fetched it wraps
// ErrNotFetched. ctx bounds only the caller's wait, not the shared fetch.
func (s *Set) LookupKey(ctx context.Context, kid string) (jwk.Key, error) {
	if k, ok, _ := s.find(kid); ok {
		return k, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("jwks: lookup abandoned: %w", err)
	}
	if s.cooldownOver() {
		// One fetch may help: the first one after an outage, or the one rotation needs.
		ch := s.flight.DoChan("fetch", func() (any, error) { return s.fetch(true) })
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("jwks: waiting for refetch: %w", ctx.Err())
		case <-ch:
		}
	}
	k, ok, fetched := s.find(kid)
	switch {
	case ok:
		return k, nil
	case !fetched:
		return nil, ErrNotFetched
	default:
		return nil, ErrUnknownKID
	}
}

// find looks kid up in the current keys.
func (s *Set) find(kid string) (k jwk.Key, ok, fetched bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ring == nil {
		return nil, false, false
	}
	k, ok = s.ring.lookup(kid)
	return k, ok, true
}

// cooldownOver reports whether an unknown-kid refetch may run now.
func (s *Set) cooldownOver() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.kidRefetchAt.IsZero() || !s.opts.Now().Before(s.kidRefetchAt.Add(s.opts.UnknownKIDCooldown))
}

// run is the background refresh loop.
func (s *Set) run(ctx context.Context) {
	retry := s.retryDelay
	for {
		var wait time.Duration
		v, err, _ := s.flight.Do("fetch", func() (any, error) { return s.fetch(false) })
		switch res, _ := v.(fetchResult); {
		case err != nil:
			wait = retry
			retry = min(2*retry, max(s.opts.MinRefresh, s.retryDelay))
		case res.skipped:
			// Joined an unknown-kid refetch refused by the cooldown: try again shortly.
			wait = s.retryDelay
		default:
			retry = s.retryDelay
			wait = res.next
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// fetch runs inside the singleflight group, so at most one runs at a time. An unknown-kid
// refetch (forKID) re-checks the cooldown here, which closes the race between a caller's check
// and a refetch that finished just before it joined.
func (s *Set) fetch(forKID bool) (fetchResult, error) {
	if forKID {
		s.mu.Lock()
		if !s.kidRefetchAt.IsZero() && s.opts.Now().Before(s.kidRefetchAt.Add(s.opts.UnknownKIDCooldown)) {
			s.mu.Unlock()
			return fetchResult{skipped: true}, nil
		}
		s.kidRefetchAt = s.opts.Now()
		s.mu.Unlock()
	}
	// The fetch is shared by every waiting caller, so no caller's cancellation may end it; the
	// HTTP client's timeout bounds it.
	next, err := s.fetchKeys(context.Background())
	if err != nil {
		s.opts.OnFetch("error")
		s.opts.Logger.Warn("jwks: fetch failed, keeping the last good keys",
			slog.String("issuer", s.opts.Issuer), slog.Any("error", err))
		return fetchResult{}, err
	}
	s.opts.OnFetch("ok")
	return fetchResult{next: next}, nil
}

// fetchKeys resolves the JWKS URI when needed, downloads and parses the set and installs it.
func (s *Set) fetchKeys(ctx context.Context) (time.Duration, error) {
	s.mu.RLock()
	uri := s.uri
	s.mu.RUnlock()
	if uri == "" {
		var err error
		if uri, err = s.discover(ctx); err != nil {
			return 0, err
		}
		s.mu.Lock()
		s.uri = uri
		s.mu.Unlock()
	}
	body, header, err := s.getBody(ctx, uri)
	if err != nil {
		return 0, err
	}
	ring, err := parseKeyring(body, s.opts.Logger)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.ring = ring
	s.mu.Unlock()
	return s.refreshInterval(header.Get("Cache-Control")), nil
}
