//go:build !linux

package torchscript

import "os"

// mapFile reports errNoMmap: Open falls back to reading records with ReadAt.
func mapFile(*os.File, int64) ([]byte, func() error, error) {
	return nil, nil, errNoMmap
}
