// Package signing keeps the issuer's signing keys: a directory of PEM private keys described by
// a small JSON manifest, the choice of the active signing key, and the public JWKS.
//
// # Directory layout
//
// The key directory (mode 0700) holds manifest.json and one <kid>.pem file per key (PKCS #8,
// mode 0600). Every file is written to a temporary file in the same directory, synced and then
// renamed into place, so a reader never sees a half-written key or manifest. A directory or file
// readable by group or others is refused. Open creates the directory and a first ES256 key when
// the directory holds no key.
//
// # Rotation
//
// Each manifest entry records when the key was created (and published in the JWKS), when it
// may start signing (sign_after) and when it is retired (retire_after, zero while it is not
// scheduled). Rotate adds a key that is published at once but signs only after a delay longer
// than the JWKS max cache age of relying parties (default 65 minutes, above the 60 minute
// default MaxRefresh of package jwks), so every verifier has fetched the new public key before
// the first token it signs appears. The keys it supersedes are retired only after the new key
// has taken over plus the longest token lifetime plus clock skew, so no token outlives the key
// that verifies it. Keys retired in the past are deleted by the next Rotate.
//
// The active signer is the newest key whose sign_after has passed and which is not retired.
// The JWKS holds every key that is not retired, including keys that do not sign yet.
//
// # Reloading
//
// Keys.Watch polls the manifest and reloads the directory when it changes, so a running server
// picks up `extauthz keys rotate` without a restart. A Keys is safe for concurrent use.
package signing
