package torchscript

import (
	"bytes"
	"os"
	"testing"
)

// storages returns every storage of the module tree, each once.
func storages(o *Object) []*Storage {
	var out []*Storage
	seen := map[*Storage]bool{}
	var walk func(*Object)
	walk = func(o *Object) {
		for _, k := range o.Order {
			switch v := o.Attrs[k].(type) {
			case *Tensor:
				if !seen[v.Storage] {
					seen[v.Storage] = true
					out = append(out, v.Storage)
				}
			case *Object:
				walk(v)
			}
		}
	}
	walk(o)
	return out
}

// TestEvictKeepsData evicts every storage, twice, and checks that the data reads back
// unchanged (also after Archive.Evict), for a mapped archive, one read into memory, and
// after Close (a no-op then).
func TestEvictKeepsData(t *testing.T) {
	const path = "../../testdata/torch113/transformer.pt"
	read := func() (*Archive, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return Read(bytes.NewReader(b), int64(len(b)))
	}
	tests := []struct {
		name       string
		open       func() (*Archive, error)
		wantMapped bool
	}{
		{"memory-mapped by Open", func() (*Archive, error) { return Open(path) }, true},
		{"read into memory", read, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.open()
			if err != nil {
				t.Fatal(err)
			}
			ss := storages(a.Module)
			if len(ss) == 0 {
				t.Fatal("no storages")
			}
			var mapped bool
			wants := make([][]byte, len(ss))
			for i, s := range ss {
				mapped = mapped || s.mapping != nil
				wants[i] = bytes.Clone(s.Data)
				for range 2 {
					if err := s.Evict(); err != nil {
						t.Fatalf("%s: %v", s.Key, err)
					}
					if !bytes.Equal(s.Data, wants[i]) {
						t.Fatalf("%s: data changed by Evict", s.Key)
					}
				}
			}
			if err := a.Evict(); err != nil {
				t.Fatalf("Archive.Evict: %v", err)
			}
			for i, s := range ss {
				if !bytes.Equal(s.Data, wants[i]) {
					t.Fatalf("%s: data changed by Archive.Evict", s.Key)
				}
			}
			if mapped != tc.wantMapped {
				t.Errorf("storages alias the mapping: %v, want %v", mapped, tc.wantMapped)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if err := s.Evict(); err != nil {
					t.Fatalf("Evict after Close: %v", err)
				}
			}
		})
	}
}

// TestMappingEvictRange checks the page arithmetic on a mapping of a temporary file: slices
// outside the mapping are ignored and the bytes of partly covered pages survive.
func TestMappingEvictRange(t *testing.T) {
	page := pageSize
	content := make([]byte, 4*page)
	for i := range content {
		content[i] = byte(i*7 + 1)
	}
	f, err := os.CreateTemp(t.TempDir(), "map")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	data, unmap, err := mapFile(f, int64(len(content)))
	if err != nil {
		t.Skipf("no mmap here: %v", err)
	}
	m := &mapping{data: data, unmap: unmap}
	defer m.close()
	tests := []struct {
		name   string
		lo, hi int
	}{
		{"inside one page", 10, 20},
		{"two whole pages with ragged ends", page / 2, 3*page + 5},
		{"everything", 0, 4 * page},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !m.contains(data[tc.lo:tc.hi]) {
				t.Fatal("slice of the mapping not contained")
			}
			if err := m.evict(data[tc.lo:tc.hi]); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, content) {
				t.Fatal("mapped bytes changed")
			}
		})
	}
	if m.contains(content[:10]) {
		t.Error("heap slice reported inside the mapping")
	}
	if err := m.evict(content); err != nil || content[5] != byte(5*7+1) {
		t.Errorf("evict of a heap slice: %v, byte %d", err, content[5])
	}
}
