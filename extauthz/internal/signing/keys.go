package signing

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/torchgate/torchgate/extauthz/internal/jwks"

	"github.com/torchgate/torchgate/extauthz/internal/filepoll"
)

// Options configure Open. A zero field takes its default.
type Options struct {
	// Algorithm is the algorithm of the first key created in an empty directory; default ES256.
	Algorithm string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Keys is the loaded key directory. It is safe for concurrent use; Reload and Watch replace
// the loaded keys atomically.
type Keys struct {
	dir string
	now func() time.Time

	keys atomic.Pointer[[]*key] // sorted by SignAfter, newest last

	mu      sync.Mutex // serializes Reload
	modTime time.Time  // manifest mtime at the last load; guarded by mu
}

// Open loads the key directory, creating it (0700) with one key that signs at once when it
// holds no key yet.
func Open(dir string, opts Options) (*Keys, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Algorithm == "" {
		opts.Algorithm = DefaultAlgorithm
	}
	if _, ok := algorithms[opts.Algorithm]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, opts.Algorithm)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if err := checkPrivate(dir); err != nil {
		return nil, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if len(m.Keys) == 0 {
		if _, err := addKey(dir, m, opts.Algorithm, opts.Now(), 0); err != nil {
			return nil, err
		}
		if err := writeManifest(dir, m); err != nil {
			return nil, err
		}
	}
	k := &Keys{dir: dir, now: opts.Now}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload reads the directory again. On error the keys loaded before stay in use.
func (k *Keys) Reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := os.Stat(filepath.Join(k.dir, ManifestFile))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrManifest, err)
	}
	m, err := readManifest(k.dir)
	if err != nil {
		return err
	}
	loaded := make([]*key, 0, len(m.Keys))
	for _, e := range m.Keys {
		kk, err := loadKey(k.dir, e)
		if err != nil {
			return err
		}
		loaded = append(loaded, kk)
	}
	slices.SortStableFunc(loaded, func(a, b *key) int { return a.SignAfter.Compare(b.SignAfter) })
	k.keys.Store(&loaded)
	k.modTime = st.ModTime()
	return nil
}

// Watch polls the manifest every interval (filepoll.DefaultInterval when zero) and reloads the
// keys when its modification time changes, until ctx is done. Reload failures go to onError
// (which may be nil); the previous keys stay in use.
func (k *Keys) Watch(ctx context.Context, interval time.Duration, onError func(error)) {
	filepoll.Run(ctx, interval, k.manifestChanged, k.Reload, onError)
}

// manifestChanged reports whether the manifest's modification time differs from the loaded one.
func (k *Keys) manifestChanged() (bool, error) {
	st, err := os.Stat(filepath.Join(k.dir, ManifestFile))
	if err != nil {
		return false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return !st.ModTime().Equal(k.modTime), nil
}

// live reports whether e is published at now.
func (e *Entry) live(now time.Time) bool {
	return e.RetireAfter.IsZero() || now.Before(e.RetireAfter)
}

// signer returns the active signing key: the newest live key whose SignAfter has passed.
func (k *Keys) signer() (*key, error) {
	now := k.now()
	keys := *k.keys.Load()
	for i := len(keys) - 1; i >= 0; i-- {
		if kk := keys[i]; !now.Before(kk.SignAfter) && kk.live(now) {
			return kk, nil
		}
	}
	return nil, ErrNoSigningKey
}

// Sign signs payload (a JSON claims object) as a compact JWS with the active key; the
// protected header carries alg, kid and, when typ is not empty, typ. It returns the token and
// the kid used.
func (k *Keys) Sign(payload []byte, typ string) (token, kid string, err error) {
	kk, err := k.signer()
	if err != nil {
		return "", "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, kk.KID); err != nil {
		return "", "", fmt.Errorf("signing: %w", err)
	}
	if typ != "" {
		if err := hdr.Set(jws.TypeKey, typ); err != nil {
			return "", "", fmt.Errorf("signing: %w", err)
		}
	}
	b, err := jws.Sign(payload, jws.WithKey(kk.alg, kk.private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", "", fmt.Errorf("signing: %w", err)
	}
	return string(b), kk.KID, nil
}

// JWKS returns the public keys of every live key (kid, alg, use=sig; no private members).
func (k *Keys) JWKS() jwk.Set {
	now := k.now()
	set := jwk.NewSet()
	for _, kk := range *k.keys.Load() {
		if kk.live(now) {
			_ = set.AddKey(kk.public) // a distinct kid each, so AddKey cannot fail
		}
	}
	return set
}

// LookupKey returns the public key with kid if it is live; it makes Keys a token.KeySource,
// so the issuer's own tokens verify without fetching its JWKS. An unknown or retired kid gives
// an error wrapping jwks.ErrUnknownKID.
func (k *Keys) LookupKey(_ context.Context, kid string) (jwk.Key, error) {
	now := k.now()
	for _, kk := range *k.keys.Load() {
		if kk.KID == kid && kid != "" && kk.live(now) {
			return kk.public, nil
		}
	}
	return nil, fmt.Errorf("signing: kid %q: %w", kid, jwks.ErrUnknownKID)
}

// Entries returns the manifest entries of the loaded keys, oldest signer first.
func (k *Keys) Entries() []Entry {
	keys := *k.keys.Load()
	out := make([]Entry, len(keys))
	for i, kk := range keys {
		out[i] = kk.Entry
	}
	return out
}

// removeKeyFile deletes a key file, ignoring one already gone.
func removeKeyFile(dir, kid string) error {
	if err := os.Remove(keyPath(dir, kid)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("signing: %w", err)
	}
	return nil
}
