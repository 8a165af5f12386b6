// Package revocation answers "is this verified token revoked?" from memory, and spreads
// revocations to every extauthz replica through Redis.
//
// # What is revoked
//
//   - a token, by its jti, until its exp;
//   - every token of a client issued before a "not before" watermark (RevokeClient, or the
//     registry's not_before field): a token whose iat lies before the watermark, or that has no
//     iat, is revoked. iat has one-second resolution, so tokens issued in the second of the
//     watermark itself are revoked too (the safe side);
//   - every token of a client the registry marks disabled.
//
// Registry state (disabled, not_before) applies only to tokens of Options.Issuer, since client
// ids of other issuers live in other namespaces. Revoked never does I/O: it reads maps under a
// read lock, so it can sit on the Check path.
//
// # Replicas
//
// With Options.Redis set, RevokeJTI and RevokeClient also write a key whose TTL is the
// remaining lifetime of the tokens concerned (KeyPrefixJTI+jti, KeyPrefixClient+client id) and
// PUBLISH the revocation on Channel. Run subscribes to Channel on every replica and applies each
// message as it arrives (milliseconds, well inside the 1 s the design promises); whenever the
// subscription is (re)established it re-reads every key with SCAN, so a replica that was
// disconnected or just started misses nothing. Without Redis the state is in-process only and
// serves a single replica.
//
// # Memory
//
// Entries are pruned when they can no longer matter: a jti after its exp, a watermark after
// MaxTokenLifetime (no token issued before it can still be alive).
//
// A Store is safe for concurrent use.
package revocation
