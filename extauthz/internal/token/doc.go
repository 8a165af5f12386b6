// Package token extracts OAuth2 bearer tokens from requests (RFC 6750 §2.1) and verifies them as
// signed JWT access tokens (RFC 7519, RFC 9068) against per-issuer policy.
//
// # Verification
//
// Verify reads the unverified "iss" claim only to choose the issuer policy and its key source;
// nothing else in the token is trusted before the signature has been checked with the key that
// the issuer's JWKS holds under the token's "kid". In order, it checks:
//
//   - the compact JWS form and the protected header: "alg" must be in the issuer's allowlist
//     and match the key's type (and the key's own "alg", when it has one); "none" and HMAC
//     algorithms are never accepted (RFC 8725 §3.1, §3.2); any "crit" header is refused, since
//     this verifier understands no extension (RFC 7515 §4.1.11); "typ" follows the issuer's
//     type policy (RFC 8725 §3.11);
//   - the signature;
//   - "exp" (required), "nbf" and "iat" against the clock, each with ClockSkew of leeway, and
//     "aud", which must contain one of the issuer's audiences.
//
// The "jku", "x5u", "jwk" and "x5c" headers are ignored: keys come only from the issuer's
// configured KeySource, never from the token (RFC 8725 §3.10), so such a header can neither make
// the verifier fetch a URL nor make it trust an embedded key. Ignoring them rather than refusing
// them keeps tokens from IdPs that add "x5c" informationally usable.
//
// # Type policy
//
// Issuer.Types lists the accepted "typ" values, compared case-insensitively and with an optional
// "application/" prefix. When Types is empty the default accepts "JWT", "at+jwt" and a missing
// typ. When Types is set, a token without typ is accepted only if Types contains ""; so
// Types: []string{"at+jwt"} enforces RFC 9068 §4 strictly.
//
// # Errors
//
// Every verification failure is an *Error whose Reason is a stable machine code and whose
// Description is safe to show a client. Compare with errors.Is against the sentinels (ErrExpired,
// ErrBadSignature, ...): a copy with a more specific Description still matches.
//
// # Cache
//
// With Options.Cache set, Verify keys verified claims by the SHA-256 of the token. A hit skips
// parsing and signature verification (it still checks exp against the clock); a miss verifies
// and stores the claims until the token's exp, capped at the cache's max TTL. Claims returned
// by Verify may be shared with the cache: treat them as read-only.
package token
