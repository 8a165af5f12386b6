package clients

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/filepoll"
)

// Registry is the loaded registry file, reloaded when it changes. It is safe for concurrent
// use; lookups read an immutable snapshot without locking.
type Registry struct {
	path string
	snap atomic.Pointer[map[string]*Client]

	mu    sync.Mutex // serializes Reload
	stamp fileStamp  // of the file last loaded; guarded by mu
}

// fileStamp identifies a version of the file well enough to notice edits and renames.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  any
}

func stampOf(st os.FileInfo) fileStamp {
	return fileStamp{mod: st.ModTime(), size: st.Size(), ino: st.Sys()}
}

// Open loads the registry file at path.
func Open(path string) (*Registry, error) {
	r := &Registry{path: path}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the file again; on error the previous snapshot stays in use.
func (r *Registry) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := os.Stat(r.path)
	if err != nil {
		return err
	}
	f, err := Load(r.path)
	if err != nil {
		return err
	}
	m := make(map[string]*Client, len(f.Clients))
	for _, c := range f.Clients {
		m[c.ID] = c
	}
	r.snap.Store(&m)
	r.stamp = stampOf(st)
	return nil
}

// changed reports whether the file differs from the one last loaded.
func (r *Registry) changed() bool {
	st, err := os.Stat(r.path)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := stampOf(st)
	return !s.mod.Equal(r.stamp.mod) || s.size != r.stamp.size || !sameInode(s.ino, r.stamp.ino)
}

// Watch polls the file every interval (filepoll.DefaultInterval when zero) and reloads it when
// it changes, until ctx is done. Reload failures go to onError (which may be nil).
func (r *Registry) Watch(ctx context.Context, interval time.Duration, onError func(error)) {
	filepoll.Run(ctx, interval, func() (bool, error) { return r.changed(), nil }, r.Reload, onError)
}

// Lookup returns the client with id. The returned Client must not be modified.
func (r *Registry) Lookup(id string) (*Client, bool) {
	c, ok := (*r.snap.Load())[id]
	return c, ok
}

// Disabled reports whether the client id is registered and disabled; it serves the
// revocation store.
func (r *Registry) Disabled(id string) bool {
	c, ok := r.Lookup(id)
	return ok && c.Disabled
}

// NotBefore returns the client's revocation watermark, zero when it has none.
func (r *Registry) NotBefore(id string) time.Time {
	if c, ok := r.Lookup(id); ok {
		return c.NotBefore
	}
	return time.Time{}
}

// Audiences returns every audience some client may ask for.
func (r *Registry) Audiences() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range *r.snap.Load() {
		for _, a := range c.Audiences {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}
