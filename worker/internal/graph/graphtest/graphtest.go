// Package graphtest helps tests make archives with unsupported code: it copies a fixture
// archive with text replaced in its code files.
package graphtest

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EditArchive copies a fixture zip into a temp dir, applying string replacements to the
// code files whose names end with each key.
func EditArchive(t testing.TB, src string, edits map[string][][2]string) string {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		for suffix, reps := range edits {
			if strings.HasSuffix(zf.Name, suffix) {
				s := string(data)
				for _, r := range reps {
					if !strings.Contains(s, r[0]) {
						t.Fatalf("%s has no %q", zf.Name, r[0])
					}
					s = strings.ReplaceAll(s, r[0], r[1])
				}
				data = []byte(s)
			}
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: zf.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}
