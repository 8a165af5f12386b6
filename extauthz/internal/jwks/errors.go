package jwks

import "errors"

// Errors returned by the jwks package. Callers compare with errors.Is; the token package maps
// ErrUnknownKID and ErrNotFetched to its own reason codes.
var (
	// ErrUnknownKID means the set holds no usable key with the requested kid, even after the
	// refetch the lookup was allowed to make.
	ErrUnknownKID = errors.New("jwks: unknown key id")
	// ErrNotFetched means the set has never been fetched successfully, so it cannot answer.
	ErrNotFetched = errors.New("jwks: keys not fetched yet")
	// ErrConfig reports invalid Options.
	ErrConfig = errors.New("jwks: invalid options")
	// ErrFetch reports a failed JWKS or metadata fetch (HTTP error, bad status, oversized body).
	ErrFetch = errors.New("jwks: fetch failed")
	// ErrNoUsableKeys means a fetched JWKS held no key usable for signature verification.
	ErrNoUsableKeys = errors.New("jwks: no usable signing keys")
	// ErrDiscovery means neither metadata document gave a jwks_uri for the issuer.
	ErrDiscovery = errors.New("jwks: discovery failed")
)
