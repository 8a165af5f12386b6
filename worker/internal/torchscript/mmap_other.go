//go:build !linux

package torchscript

import "os"

// pageSize is the granularity of dropPages.
var pageSize = os.Getpagesize()

// mapFile reports errNoMmap: Open falls back to reading records with ReadAt.
func mapFile(*os.File, int64) ([]byte, func() error, error) {
	return nil, nil, errNoMmap
}

// dropPages is never reached: without a mapping no storage aliases one.
func dropPages([]byte) error { return nil }
