package signing

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/atomicfile"
)

// ManifestFile is the name of the manifest inside the key directory.
const ManifestFile = "manifest.json"

// Entry describes one key in the manifest.
type Entry struct {
	// KID is the key id, also the base name of the key's PEM file.
	KID string `json:"kid"`
	// Alg is ES256 or RS256.
	Alg string `json:"alg"`
	// Created is when the key was generated and published in the JWKS.
	Created time.Time `json:"created"`
	// SignAfter is when the key may start signing.
	SignAfter time.Time `json:"sign_after"`
	// RetireAfter is when the key leaves the JWKS; zero while no retirement is scheduled.
	RetireAfter time.Time `json:"retire_after,omitzero"`
}

// manifest is the JSON document in ManifestFile.
type manifest struct {
	Keys []Entry `json:"keys"`
}

// kidPattern keeps key ids safe as file names.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// readManifest reads the manifest; a missing file is an empty manifest.
func readManifest(dir string) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &manifest{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signing: reading manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	seen := make(map[string]bool, len(m.Keys))
	for _, e := range m.Keys {
		if !kidPattern.MatchString(e.KID) || seen[e.KID] {
			return nil, fmt.Errorf("%w: bad or duplicate kid %q", ErrManifest, e.KID)
		}
		if _, ok := algorithms[e.Alg]; !ok {
			return nil, fmt.Errorf("%w: key %q: %q", ErrAlgorithm, e.KID, e.Alg)
		}
		seen[e.KID] = true
	}
	return &m, nil
}

// writeManifest replaces the manifest atomically.
func writeManifest(dir string, m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("signing: encoding manifest: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, ManifestFile), append(b, '\n'))
}

// checkPrivate refuses a file or directory that group or others may access.
func checkPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %v; want 0600 (files) or 0700 (directory)", ErrInsecureMode, path, st.Mode().Perm())
	}
	return nil
}
