package issuer

import (
	"net/url"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// An assertion used at one replica is refused at another that shares the Redis replay cache.
func TestReplayCacheSharedThroughRedis(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	a := newEnv(t, func(o *Options) { o.Redis = rdb })
	body := "grant_type=client_credentials&client_assertion_type=" + url.QueryEscape(assertionType) +
		"&client_assertion=" + a.assertion(t, nil)
	if resp, eb := a.do(t, request{body: body}); resp.StatusCode != 200 {
		t.Fatalf("first use: %d %+v", resp.StatusCode, eb)
	}
	if len(mr.Keys()) != 1 {
		t.Fatalf("replay keys = %v", mr.Keys())
	}
	// A second server with the same Redis sees the jti as used.
	opts := a.issuer.opts
	opts.Registerer = nil
	second, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	first, err := second.replay.firstUse(t.Context(), mr.Keys()[0][len(replayKeyPrefix):], time.Minute)
	if err != nil || first {
		t.Errorf("second replica: firstUse = %v, %v; want false", first, err)
	}
	// Redis down: the request fails closed, as temporarily_unavailable.
	mr.Close()
	body = "grant_type=client_credentials&client_assertion_type=" + url.QueryEscape(assertionType) +
		"&client_assertion=" + a.assertion(t, nil)
	if resp, eb := a.do(t, request{body: body}); resp.StatusCode != 503 || eb.Error != "temporarily_unavailable" {
		t.Errorf("redis down: %d %+v", resp.StatusCode, eb)
	}
}
