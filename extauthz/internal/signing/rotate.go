package signing

import (
	"crypto"
	"os"
	"time"
)

// Rotation defaults.
const (
	// DefaultSignDelay is how long a new key is published before it signs: longer than the
	// 60 minute JWKS max cache age of package jwks, with a margin.
	DefaultSignDelay = 65 * time.Minute
	// DefaultRetainAfter is how long a superseded key stays published after its successor
	// starts signing: the default longest token lifetime (1h) plus clock skew.
	DefaultRetainAfter = time.Hour + time.Minute
)

// RotateOptions configure Rotate. A zero field takes its default.
type RotateOptions struct {
	// Algorithm of the new key; default ES256.
	Algorithm string
	// SignDelay is how long the new key is only published before it signs; default
	// DefaultSignDelay. It should exceed the JWKS max cache age of every relying party.
	SignDelay time.Duration
	// RetainAfter is how long superseded keys stay published once the new key signs: the
	// longest token lifetime plus clock skew; default DefaultRetainAfter.
	RetainAfter time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Rotate adds a new key to dir that signs after SignDelay, schedules the retirement of every
// key it supersedes at (new key's sign_after + RetainAfter), deletes keys retired before now,
// and returns the new entry. A running server picks the change up through Keys.Watch.
// Concurrent Rotate calls on one directory are not supported.
func Rotate(dir string, opts RotateOptions) (Entry, error) {
	if opts.Algorithm == "" {
		opts.Algorithm = DefaultAlgorithm
	}
	if opts.SignDelay <= 0 {
		opts.SignDelay = DefaultSignDelay
	}
	if opts.RetainAfter <= 0 {
		opts.RetainAfter = DefaultRetainAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := checkPrivate(dir); err != nil {
		return Entry{}, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return Entry{}, err
	}
	now := opts.Now()
	var kept []Entry
	var retired []string
	for _, e := range m.Keys {
		if e.live(now) {
			kept = append(kept, e)
		} else {
			retired = append(retired, e.KID)
		}
	}
	m.Keys = kept
	e, err := addKey(dir, m, opts.Algorithm, now, opts.SignDelay)
	if err != nil {
		return Entry{}, err
	}
	retire := e.SignAfter.Add(opts.RetainAfter)
	for i := range m.Keys[:len(m.Keys)-1] {
		// A retirement already scheduled stays: moving it earlier could cut short the tokens
		// the key signed.
		if old := &m.Keys[i]; old.RetireAfter.IsZero() {
			old.RetireAfter = retire
		}
	}
	if err := writeManifest(dir, m); err != nil {
		_ = os.Remove(keyPath(dir, e.KID))
		return Entry{}, err
	}
	for _, kid := range retired {
		if err := removeKeyFile(dir, kid); err != nil {
			return e, err
		}
	}
	return e, nil
}

// addKey generates a key, writes its file and appends its entry to m (not yet saved).
func addKey(dir string, m *manifest, alg string, now time.Time, delay time.Duration) (Entry, error) {
	var (
		kid  string
		priv crypto.Signer
		err  error
	)
	if kid, priv, err = generate(alg); err != nil {
		return Entry{}, err
	}
	if err := writeKey(dir, kid, priv); err != nil {
		return Entry{}, err
	}
	now = now.UTC().Truncate(time.Second)
	e := Entry{KID: kid, Alg: alg, Created: now, SignAfter: now.Add(delay)}
	m.Keys = append(m.Keys, e)
	return e, nil
}
