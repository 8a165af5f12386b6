package clients

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
)

// SecretBytes is the entropy of a generated secret: 256 bits.
const SecretBytes = 32

const (
	hashScheme = "hmac-sha256"
	saltBytes  = 16
)

var b64 = base64.RawURLEncoding

// GenerateSecret returns a new client secret: SecretBytes from crypto/rand, base64url encoded.
func GenerateSecret() (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("clients: generating secret: %w", err)
	}
	return b64.EncodeToString(b), nil
}

// HashSecret returns the stored form of secret with a fresh random salt (see the package doc).
func HashSecret(secret string) (string, error) {
	salt := make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("clients: generating salt: %w", err)
	}
	return hashScheme + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(mac(salt, secret)), nil
}

// secretHash is a parsed stored hash.
type secretHash struct {
	salt, mac []byte
}

// parseHash parses the stored form written by HashSecret.
func parseHash(s string) (secretHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 3 || parts[0] != hashScheme {
		return secretHash{}, fmt.Errorf("%w: secret_hash is not %s$<salt>$<mac>", ErrInvalid, hashScheme)
	}
	salt, err1 := b64.DecodeString(parts[1])
	sum, err2 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(salt) < saltBytes || len(sum) != sha256.Size {
		return secretHash{}, fmt.Errorf("%w: secret_hash is malformed", ErrInvalid)
	}
	return secretHash{salt: salt, mac: sum}, nil
}

// matches reports in constant time whether secret hashes to h.
func (h secretHash) matches(secret string) bool {
	return subtle.ConstantTimeCompare(mac(h.salt, secret), h.mac) == 1
}

func mac(salt []byte, secret string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// dummyHash is compared against when the client id is unknown or has no secret, so timing does
// not tell whether a client exists.
var dummyHash = secretHash{salt: make([]byte, saltBytes), mac: make([]byte, sha256.Size)}
