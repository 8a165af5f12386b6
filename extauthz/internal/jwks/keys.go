package jwks

import (
	"fmt"
	"log/slog"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// keyring is one fetched generation of usable keys. It is immutable once built.
type keyring struct {
	byKID map[string]jwk.Key
	// only is the single usable key when the set holds exactly one, else nil; it answers
	// lookups for tokens without a kid.
	only jwk.Key
}

// lookup returns the key for kid under the rules in the package doc.
func (r *keyring) lookup(kid string) (jwk.Key, bool) {
	if kid == "" {
		return r.only, r.only != nil
	}
	k, ok := r.byKID[kid]
	return k, ok
}

// parseKeyring parses a JWKS document and keeps the keys usable for signature verification.
func parseKeyring(body []byte, log *slog.Logger) (*keyring, error) {
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	r := &keyring{byKID: make(map[string]jwk.Key, set.Len())}
	var usable []jwk.Key
	for i := range set.Len() {
		k, ok := set.Key(i)
		if !ok {
			continue
		}
		kid, _ := k.KeyID()
		if k.KeyType() == jwa.OctetSeq() {
			log.Warn("jwks: skipping symmetric key", slog.String("kid", kid))
			continue
		}
		if use, ok := k.KeyUsage(); ok && use != string(jwk.ForSignature) {
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			log.Warn("jwks: skipping unusable key", slog.String("kid", kid), slog.Any("error", err))
			continue
		}
		if kid != "" {
			if _, dup := r.byKID[kid]; dup {
				log.Warn("jwks: duplicate kid, keeping the first key", slog.String("kid", kid))
				continue
			}
			r.byKID[kid] = pub
		}
		usable = append(usable, pub)
	}
	if len(usable) == 0 {
		return nil, ErrNoUsableKeys
	}
	if len(usable) == 1 {
		r.only = usable[0]
	}
	return r, nil
}
