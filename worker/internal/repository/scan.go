package repository

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// File names inside the repository.
const (
	ConfigFile = "config.yaml"
	ModelFile  = "model.pt"
)

// Model is one model folder of the repository.
type Model struct {
	// Name is the folder name.
	Name string
	// Versions are sorted by ascending number; the last is the default.
	Versions []Version
	// Config is config.yaml's content, or the zero Config when there is none.
	Config Config
}

// Version is one version folder holding a model archive.
type Version struct {
	// Number is the folder name as a number.
	Number int64
	// Path is the archive's path.
	Path string
}

// Default returns the highest version.
func (m Model) Default() Version { return m.Versions[len(m.Versions)-1] }

// Scan reads the repository at dir. Models are sorted by name.
func Scan(dir string) ([]Model, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLayout, err)
	}
	var models []Model
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, err := scanModel(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		models = append(models, m)
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("%w: %s holds no model folder", ErrLayout, dir)
	}
	return models, nil
}

// scanModel reads one model folder.
func scanModel(dir string) (Model, error) {
	m := Model{Name: filepath.Base(dir)}
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	switch {
	case err == nil:
		if m.Config, err = ParseConfig(bytes.NewReader(b)); err != nil {
			return Model{}, fmt.Errorf("model %s: %w", m.Name, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Model{}, fmt.Errorf("%w: model %s: %w", ErrConfig, m.Name, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Model{}, fmt.Errorf("%w: %w", ErrLayout, err)
	}
	for _, e := range entries {
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		if !e.IsDir() || err != nil || n < 1 || strconv.FormatInt(n, 10) != e.Name() {
			continue
		}
		path := filepath.Join(dir, e.Name(), ModelFile)
		if _, err := os.Stat(path); err != nil {
			return Model{}, fmt.Errorf("%w: model %s version %d: %w", ErrLayout, m.Name, n, err)
		}
		m.Versions = append(m.Versions, Version{Number: n, Path: path})
	}
	if len(m.Versions) == 0 {
		return Model{}, fmt.Errorf("%w: model %s has no version folder with %s", ErrLayout, m.Name, ModelFile)
	}
	slices.SortFunc(m.Versions, func(a, b Version) int { return cmp.Compare(a.Number, b.Number) })
	return m, nil
}
