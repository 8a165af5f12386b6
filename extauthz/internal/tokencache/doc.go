// Package tokencache is a bounded, sharded LRU cache keyed by the SHA-256 of a bearer token.
//
// The extauthz token verifier stores the claims of every token it has verified, so a repeated
// token skips JSON parsing and signature verification. Entries carry their own expiry (never
// past the token's exp) and are dropped on read once expired; when a shard is full its least
// recently used entry makes room.
//
// # Concurrency
//
// A Cache is safe for concurrent use by multiple goroutines. Keys are spread over independent
// shards, each guarded by its own mutex, so lookups of different tokens rarely contend. Get
// allocates nothing.
//
// # Revocation
//
// EvictIf removes every entry whose value matches a predicate, for example all tokens with a
// revoked jti or all tokens of a client issued before a watermark.
package tokencache
