// Package issuer is torchgate's built-in OAuth2 authorization server for machine clients:
// the client credentials grant (RFC 6749 §4.4) issuing RFC 9068 JWT access tokens, with
// metadata (RFC 8414, and the OpenID discovery subset), the JWKS, introspection (RFC 7662)
// and revocation (RFC 7009). Register mounts the endpoints on the HTTP listener's mux.
//
// # Client authentication
//
// Exactly one method per request (RFC 6749 §2.3): client_secret_basic (id and secret
// form-urlencoded, then Basic), client_secret_post, or private_key_jwt (RFC 7523 §2.2): a JWT
// signed with a key from the client's registered JWKS (inline or jwks_uri), iss = sub = client
// id, aud naming the token endpoint URL or the issuer URL, exp required and at most
// MaxAssertionLifetime ahead, nbf and iat not in the future (with ClockSkew), jti required and
// accepted once (a Redis SET NX with the assertion's remaining lifetime when Redis is
// configured, else an in-memory set), alg from an asymmetric allowlist, typ absent or JWT.
//
// Failed authentications are limited per client id and per source address with a token bucket
// (AuthFailureBurst, then one per AuthFailureRefill), answered 429 with Retry-After, and
// counted in torchgate_issuer_auth_failures_total{reason}. The source address is the TCP peer:
// X-Forwarded-For is not trusted.
//
// # Requests and errors
//
// Bodies must be application/x-www-form-urlencoded POST bodies of at most MaxBodyBytes;
// parameters in the URL query are refused, and a repeated parameter is invalid_request (RFC
// 6749 §3.2), except RFC 8707 "resource", which may repeat. Every failure is an *Error written
// at one boundary as RFC 6749 §5.2 describes; invalid_client is 401 and carries
// WWW-Authenticate: Basic when the request used Basic. Responses carry Cache-Control: no-store
// and Pragma: no-cache.
//
// # Grants
//
// Scopes granted are requested ∩ allowed: no scope parameter grants every allowed scope, and a
// requested scope the client may not have fails with invalid_scope. Audiences come from
// "resource" (RFC 8707) and "audience": each must be one of the client's registered
// audiences (or the default audience, for a client with none), else invalid_target; with none
// requested the default audience is used. A client without any allowed scope is
// unauthorized_client.
//
// Tokens carry the header typ at+jwt, kid and alg, and the claims iss, sub and client_id (the
// client id), aud, scope, iat, exp (TTL), a 128-bit random jti, and tier when the client has one.
//
// # Introspection and revocation
//
// Any registered client may introspect; anything but a live, unrevoked token of this issuer
// answers {"active":false} alone. A client may revoke only its own tokens (others:
// unauthorized_client); tokens that do not verify are answered 200 (RFC 7009 §2.2). When the
// revocation cannot be published to Redis it still holds on this replica and the answer is 503,
// so the client retries.
//
// Every token issued or refused and every revocation is written to the audit log (client id,
// jti, scopes, audience, lifetime, source address, outcome); secrets and tokens never are.
package issuer
