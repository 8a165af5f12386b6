package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// TestRedisSentinelFailover runs the limiter through a real Sentinel
// (redis+sentinel://) in front of a master and its replica, then fails the
// master over: the limiter follows the new master on its own, and the limits
// spent before the failover, replicated, still count after it.
func TestRedisSentinelFailover(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	sentinel := redistest.StartSentinel(t, "torchgate", master)
	client, err := NewClientTimeout("redis+sentinel://"+sentinel.Addr()+"/torchgate", time.Second)
	mustOK(t, err)
	t.Cleanup(func() { _ = client.Close() })
	l := NewRedis(client, RedisOptions{Timeout: time.Second, BreakerCooldown: 20 * time.Millisecond})
	tier := &Tier{Name: "pro", Rate: 1000, Burst: 1000, Quotas: []Quota{{Day, 1000}}}
	ctx := context.Background()
	allow := func() Result {
		t.Helper()
		res, err := l.Allow(ctx, Request{ClientID: "a", Tier: tier, Cost: 1})
		if err != nil || !res.Allowed {
			t.Fatalf("Allow = %+v, %v", res, err)
		}
		return res
	}
	oldMaster := redisClient(t, master, time.Second)
	newMaster := redisClient(t, replica, time.Second)
	// used is the day quota's count of client a on a server (0 without the key).
	used := func(c redis.UniversalClient) int {
		t.Helper()
		keys, err := c.Keys(ctx, DefaultKeyPrefix+"{a}:q:day:*").Result()
		mustOK(t, err)
		if len(keys) == 0 {
			return 0
		}
		n, err := c.Get(ctx, keys[0]).Int()
		mustOK(t, err)
		return n
	}

	for range 3 {
		if res := allow(); res.Degraded {
			t.Fatalf("through the sentinel: %+v, want decided in Redis", res)
		}
	}
	mustOK(t, oldMaster.Do(ctx, "wait", 1, 5000).Err()) // the replica has the 3 requests
	if got := used(newMaster); got != 3 {
		t.Fatalf("replica's count before the failover = %d, want 3", got)
	}

	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr()})
	t.Cleanup(func() { _ = sc.Close() })
	mustOK(t, sc.Failover(ctx, "torchgate").Err())
	waitLong(t, "the sentinel names the replica as master", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, "torchgate").Result()
		return err == nil && len(addr) == 2 && "127.0.0.1:"+addr[1] == replica.Addr()
	})

	// Every Allow meanwhile is decided, in Redis or by the fallback, until
	// the decisions reach the new master.
	var res Result
	waitLong(t, "an Allow is decided by the new master", func() bool {
		before := used(newMaster)
		res = allow()
		return !res.Degraded && used(newMaster) == before+1
	})
	if n := used(newMaster); n < 4 || res.Policies[1].Remaining != 1000-int64(n) {
		t.Errorf("after the failover: %d used on the new master, remaining %d; want the count to go on from 3",
			n, res.Policies[1].Remaining)
	}
	t.Logf("new master %s counts %s requests of client a", replica.Addr(), strconv.Itoa(used(newMaster)))
}
