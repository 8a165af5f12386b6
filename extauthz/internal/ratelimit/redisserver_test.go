package ratelimit

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// redisClient returns a go-redis client for srv configured as NewClientTimeout does.
func redisClient(t testing.TB, srv *redistest.Server, timeout time.Duration) redis.UniversalClient {
	t.Helper()
	c, err := NewClientTimeout(srv.URL(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
