package clients

import (
	"context"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/torchgate/torchgate/extauthz/internal/jwks"
)

// KeySet is a client's inline public key set. It implements token.KeySource with the lookup
// rules of package jwks: by kid, or the only key when the assertion has no kid and the set
// holds exactly one.
type KeySet struct {
	byKID map[string]jwk.Key
	only  jwk.Key
}

// ParseKeySet parses a JWKS document, keeping public signature keys only; symmetric keys and
// keys with a use other than "sig" are refused.
func ParseKeySet(doc []byte) (*KeySet, error) {
	set, err := jwk.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("clients: jwks: %w", err)
	}
	ks := &KeySet{byKID: make(map[string]jwk.Key)}
	var n int
	for i := range set.Len() {
		k, _ := set.Key(i)
		if k.KeyType() == jwa.OctetSeq() {
			return nil, errors.New("clients: jwks holds a symmetric key")
		}
		if use, ok := k.KeyUsage(); ok && use != string(jwk.ForSignature) {
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("clients: jwks: %w", err)
		}
		if kid, ok := k.KeyID(); ok && kid != "" {
			if _, dup := ks.byKID[kid]; dup {
				return nil, fmt.Errorf("clients: jwks: duplicate kid %q", kid)
			}
			ks.byKID[kid] = pub
		}
		ks.only = pub
		n++
	}
	if n == 0 {
		return nil, errors.New("clients: jwks holds no signature key")
	}
	if n > 1 {
		ks.only = nil
	}
	return ks, nil
}

// LookupKey returns the key for kid; an unknown kid gives an error wrapping
// jwks.ErrUnknownKID.
func (ks *KeySet) LookupKey(_ context.Context, kid string) (jwk.Key, error) {
	if kid == "" && ks.only != nil {
		return ks.only, nil
	}
	if k, ok := ks.byKID[kid]; ok && kid != "" {
		return k, nil
	}
	return nil, fmt.Errorf("clients: kid %q: %w", kid, jwks.ErrUnknownKID)
}
