// Package jwks keeps one issuer's JSON Web Key Set (RFC 7517 §5) fresh in memory and answers
// key lookups by key id for token verification.
//
// # Fetching
//
// A Set fetches the JWKS from Options.URI, or, when that is empty, from the jwks_uri of the
// issuer's metadata: first OpenID Connect Discovery (Issuer + "/.well-known/openid-configuration"),
// then RFC 8414 (the "/.well-known/oauth-authorization-server" well-known URI). The metadata's
// "issuer" must equal Options.Issuer (OpenID Connect Discovery 1.0 §4.3, RFC 8414 §3.3).
//
// Start fetches at once and then refreshes in the background. The refresh interval is the
// response's Cache-Control max-age clamped into [MinRefresh, MaxRefresh]; without a max-age it is
// min(MaxRefresh, 15m), and never below MinRefresh. A failed fetch is retried with exponential
// backoff (1s doubling up to MinRefresh) and the last good keys stay in use, so an IdP outage
// does not reject tokens signed with keys we already know.
//
// # Key selection
//
// Only asymmetric public keys whose "use" is "sig" or absent are kept. Symmetric ("oct") keys are
// skipped with a log line: a shared secret published in a JWKS is a configuration error, and
// accepting it would allow HMAC tokens forged with it. Private keys are reduced to their public
// half. When two keys share a kid, the first one wins.
//
// A token without a kid is matched only when the set holds exactly one usable key (with or
// without a kid); with several keys, picking one by trial would make a kid-less token ambiguous.
// A key without a kid is therefore reachable only in a one-key set.
//
// # Unknown key ids
//
// A lookup for a kid the set does not hold triggers one immediate refetch (key rotation),
// collapsed across concurrent callers so that at most one HTTP fetch is in flight. After it, the
// set does not refetch for unknown kids during UnknownKIDCooldown: such lookups fail at once with
// ErrUnknownKID, so a flood of tokens with random kids cannot turn into a flood of requests to the
// IdP.
//
// # Concurrency
//
// All methods of a Set may be called concurrently.
package jwks
