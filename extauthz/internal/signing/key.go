package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/torchgate/torchgate/extauthz/internal/atomicfile"
)

// Supported signing algorithms.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// DefaultAlgorithm is the algorithm of keys created without an explicit one.
const DefaultAlgorithm = ES256

// algorithms maps the supported algorithm names to jwa values.
var algorithms = map[string]jwa.SignatureAlgorithm{ES256: jwa.ES256(), RS256: jwa.RS256()}

// rsaBits is the size of generated RSA keys.
const rsaBits = 3072

// key is one loaded key: its manifest entry, the private key and its public JWK.
type key struct {
	Entry
	alg     jwa.SignatureAlgorithm
	private crypto.Signer
	public  jwk.Key // kid, alg and use=sig set; no private members
}

// generate creates a private key for alg and a random kid.
func generate(alg string) (string, crypto.Signer, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return "", nil, fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	if err != nil {
		return "", nil, fmt.Errorf("signing: generating key: %w", err)
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("signing: generating kid: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), priv, nil
}

// writeKey stores priv as PKCS #8 PEM in <dir>/<kid>.pem.
func writeKey(dir, kid string, priv crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("signing: encoding key: %w", err)
	}
	return atomicfile.Write(keyPath(dir, kid), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func keyPath(dir, kid string) string { return filepath.Join(dir, kid+".pem") }

// loadKey reads the PEM file of e and checks that it fits e.Alg.
func loadKey(dir string, e Entry) (*key, error) {
	path := keyPath(dir, e.KID)
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s is not a PKCS #8 PEM private key", ErrManifest, path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrManifest, path, err)
	}
	var priv crypto.Signer
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		if e.Alg != ES256 || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: key %q does not fit %s", ErrManifest, e.KID, e.Alg)
		}
		priv = k
	case *rsa.PrivateKey:
		if e.Alg != RS256 || k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: key %q does not fit %s", ErrManifest, e.KID, e.Alg)
		}
		priv = k
	default:
		return nil, fmt.Errorf("%w: key %q has an unsupported type", ErrManifest, e.KID)
	}
	pub, err := jwk.PublicKeyOf(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	alg := algorithms[e.Alg]
	for name, v := range map[string]any{jwk.KeyIDKey: e.KID, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := pub.Set(name, v); err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
	}
	return &key{Entry: e, alg: alg, private: priv, public: pub}, nil
}
