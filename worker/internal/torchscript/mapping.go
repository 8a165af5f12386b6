package torchscript

import (
	"sync"
	"unsafe"
)

// mapping is the archive file as Open maps it. Storages that alias it keep a pointer to it
// so that Evict never touches memory after Close has unmapped it.
type mapping struct {
	mu    sync.RWMutex
	data  []byte // nil once closed; guarded by mu
	unmap func() error
}

// close unmaps the file; later evictions do nothing.
func (m *mapping) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		return nil
	}
	m.data = nil
	return m.unmap()
}

// contains reports whether b lies inside the mapping (false for a nil mapping).
func (m *mapping) contains(b []byte) bool {
	if m == nil || len(b) == 0 || len(m.data) == 0 {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m.data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= base && p-base <= uintptr(len(m.data)-len(b))
}

// evict drops the pages lying wholly inside b (a slice of the mapping) from the resident set.
func (m *mapping) evict(b []byte) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.contains(b) {
		return nil
	}
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(m.data))))
	page := pageSize
	lo := (off + page - 1) / page * page
	hi := (off + len(b)) / page * page
	if lo >= hi {
		return nil
	}
	return dropPages(m.data[lo:hi])
}

// evictAll drops every page of the mapping from the resident set.
func (m *mapping) evictAll() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.data) == 0 {
		return nil
	}
	return dropPages(m.data)
}
