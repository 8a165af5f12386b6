package clients

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/torchgate/torchgate/extauthz/internal/atomicfile"
)

// maxFileBytes caps the registry file.
const maxFileBytes = 16 << 20

// File is the content of the registry file.
type File struct {
	Clients []*Client `yaml:"clients"`
}

// Find returns the client with id, or nil.
func (f *File) Find(id string) *Client {
	for _, c := range f.Clients {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// validate checks every client and the uniqueness of ids.
func (f *File) validate() error {
	seen := make(map[string]bool, len(f.Clients))
	for _, c := range f.Clients {
		if c == nil {
			return fmt.Errorf("%w: empty client entry", ErrInvalid)
		}
		if err := c.prepare(); err != nil {
			return err
		}
		if seen[c.ID] {
			return fmt.Errorf("%w: client %q listed twice", ErrInvalid, c.ID)
		}
		seen[c.ID] = true
	}
	return nil
}

// Load reads and validates the registry file. It refuses a file that group or others can
// access (ErrInsecureMode).
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrInsecureMode, path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrInvalid, maxFileBytes)
	}
	f := &File{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// Save validates f and writes it to path atomically with mode 0600 (see the package doc).
func Save(path string, f *File) error {
	if err := f.validate(); err != nil {
		return err
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		return fmt.Errorf("clients: encoding registry: %w", err)
	}
	return atomicfile.Write(path, b)
}

// Update loads path (an absent file is an empty registry), applies fn and saves the result
// atomically. Concurrent Updates of one file are not serialized: the last rename wins.
func Update(path string, fn func(*File) error) error {
	f, err := Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = &File{}, nil
	}
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	return Save(path, f)
}
