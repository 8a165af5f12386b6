// Package filepoll keeps in-memory state in step with files edited under a running process
// (the client registry, the signing keys) by polling them: simple, and it works on every
// filesystem, including bind mounts and Kubernetes volumes where change notifications are
// unreliable.
package filepoll

import (
	"context"
	"time"
)

// DefaultInterval is the poll interval when none is given.
const DefaultInterval = 2 * time.Second

// Run checks changed every interval (DefaultInterval when zero) until ctx is done, and calls
// reload when it reports a change. An error from either goes to onError (which may be nil);
// the caller's previous state stays in use.
func Run(ctx context.Context, interval time.Duration, changed func() (bool, error), reload func() error, onError func(error)) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ch, err := changed()
		if err == nil && ch {
			err = reload()
		}
		if err != nil && onError != nil {
			onError(err)
		}
	}
}
