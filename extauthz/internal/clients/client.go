package clients

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// Token endpoint authentication methods (RFC 7591 §2, RFC 7523 §2.2).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// Client is one registered client as stored in the registry file.
type Client struct {
	// ID is the client_id: 1-128 characters of A-Z a-z 0-9 . _ ~ -.
	ID string `yaml:"id"`
	// SecretHash is the stored hash of the client secret (see the package doc); empty for a
	// private_key_jwt client.
	SecretHash string `yaml:"secret_hash,omitempty"`
	// Scopes are the scopes the client may be granted.
	Scopes []string `yaml:"scopes"`
	// Audiences are the audiences (RFC 8707 resources) the client may ask for; empty means only
	// the issuer's default audience.
	Audiences []string `yaml:"audiences,omitempty"`
	// Tier is copied into the "tier" claim when not empty.
	Tier string `yaml:"tier,omitempty"`
	// Disabled refuses the client at the token endpoint, and its tokens at every Check.
	Disabled bool `yaml:"disabled,omitempty"`
	// AuthMethod is the token_endpoint_auth_method. Empty allows both client_secret_basic and
	// client_secret_post; private_key_jwt allows only signed assertions.
	AuthMethod string `yaml:"token_endpoint_auth_method,omitempty"`
	// JWKS is the client's public key set as inline JSON, for private_key_jwt.
	JWKS string `yaml:"jwks,omitempty"`
	// JWKSURI is where the client publishes its public keys, for private_key_jwt.
	JWKSURI string `yaml:"jwks_uri,omitempty"`
	// NotBefore is the client's revocation watermark: tokens issued before it are refused.
	NotBefore time.Time `yaml:"not_before,omitempty"`

	hash secretHash // parsed SecretHash
	keys *KeySet    // parsed JWKS; nil without one
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// ValidID reports whether id is acceptable as a client id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// prepare validates c and parses its secret hash and keys.
func (c *Client) prepare() error {
	if !ValidID(c.ID) {
		return fmt.Errorf("%w: client id %q must be 1-128 characters of A-Z a-z 0-9 . _ ~ -", ErrInvalid, c.ID)
	}
	switch c.AuthMethod {
	case "", AuthSecretBasic, AuthSecretPost:
		if c.SecretHash == "" {
			return fmt.Errorf("%w: client %q: a secret method needs secret_hash", ErrInvalid, c.ID)
		}
	case AuthPrivateKeyJWT:
		if (c.JWKS == "") == (c.JWKSURI == "") {
			return fmt.Errorf("%w: client %q: private_key_jwt needs exactly one of jwks and jwks_uri", ErrInvalid, c.ID)
		}
	default:
		return fmt.Errorf("%w: client %q: unknown token_endpoint_auth_method %q", ErrInvalid, c.ID, c.AuthMethod)
	}
	if c.SecretHash != "" {
		h, err := parseHash(c.SecretHash)
		if err != nil {
			return fmt.Errorf("client %q: %w", c.ID, err)
		}
		c.hash = h
	}
	if c.JWKS != "" {
		ks, err := ParseKeySet([]byte(c.JWKS))
		if err != nil {
			return fmt.Errorf("%w: client %q: %w", ErrInvalid, c.ID, err)
		}
		c.keys = ks
	}
	if c.JWKSURI != "" {
		if u, err := url.Parse(c.JWKSURI); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("%w: client %q: jwks_uri is not an absolute http(s) URL", ErrInvalid, c.ID)
		}
	}
	for _, s := range append(slices.Clone(c.Scopes), c.Audiences...) {
		if s == "" {
			return fmt.Errorf("%w: client %q: empty scope or audience", ErrInvalid, c.ID)
		}
	}
	return nil
}

// AllowsMethod reports whether the client may authenticate with method.
func (c *Client) AllowsMethod(method string) bool {
	if c.AuthMethod == "" {
		return method == AuthSecretBasic || method == AuthSecretPost
	}
	return c.AuthMethod == method
}

// CheckSecret reports in constant time whether secret is the client's secret. A client with
// no secret compares against a dummy hash and never matches.
func (c *Client) CheckSecret(secret string) bool {
	if c.SecretHash == "" {
		dummyHash.matches(secret)
		return false
	}
	return c.hash.matches(secret)
}

// CheckUnknownSecret spends the time of one secret check, for callers answering about an
// unknown client id; it always reports false.
func CheckUnknownSecret(secret string) bool {
	dummyHash.matches(secret)
	return false
}

// Keys returns the client's inline key set, or nil when it registered none.
func (c *Client) Keys() *KeySet { return c.keys }
