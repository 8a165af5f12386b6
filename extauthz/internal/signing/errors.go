package signing

import "errors"

// Errors returned by the signing package; compare with errors.Is.
var (
	// ErrInsecureMode means the key directory or a key file is readable by group or others.
	ErrInsecureMode = errors.New("signing: key directory or file is group or world accessible")
	// ErrManifest means the manifest or a key file it names is missing or invalid.
	ErrManifest = errors.New("signing: invalid key manifest")
	// ErrAlgorithm means the signing algorithm is not ES256 or RS256.
	ErrAlgorithm = errors.New("signing: unsupported signing algorithm")
	// ErrNoSigningKey means no key may sign at this time (every key is retired or not active yet).
	ErrNoSigningKey = errors.New("signing: no active signing key")
)
