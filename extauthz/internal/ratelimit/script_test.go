package ratelimit

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// newMiniredis returns a miniredis whose TIME follows clock, and a client.
func newMiniredis(t *testing.T, clock *fakeClock) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	m := miniredis.RunT(t)
	m.SetTime(clock.Now())
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return m, c
}

// instant is a named point in time, for tests at calendar edges.
type instant struct {
	name string
	at   time.Time
}

// TestScriptMatchesLocal runs the same random traffic through the Lua script
// (in miniredis, whose TIME follows a fake clock) and through Local: every
// result must be identical, across minute, hour, day and month rollovers
// (including a leap February and New Year) and tier changes.
func TestScriptMatchesLocal(t *testing.T) {
	tiers := []*Tier{
		{Name: "small", Rate: 3, Burst: 4, Quotas: []Quota{{Minute, 20}, {Hour, 50}, {Day, 80}, {Month, 100}}},
		{Name: "changed", Rate: 7, Burst: 2, Quotas: []Quota{{Minute, 25}, {Month, 120}}},
		{Name: "big", Rate: 1e6, Burst: 1 << 40, Quotas: []Quota{{Day, 1 << 50}}},
	}
	starts := []instant{
		{"leap February end", time.Date(2028, 2, 29, 23, 58, 30, 123456000, time.UTC)},
		{"New Year", time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)},
		{"thirty-day month end", time.Date(2026, 11, 30, 23, 59, 50, 0, time.UTC)},
	}
	for _, s := range starts {
		t.Run(s.name, func(t *testing.T) {
			clock := newFakeClock(s.at)
			m, client := newMiniredis(t, clock)
			remote := NewRedis(client, RedisOptions{Now: clock.Now, Timeout: 10 * time.Second}) // no timing here
			local := NewLocal(LocalOptions{Now: clock.Now})
			rng := rand.New(rand.NewPCG(1, uint64(s.at.Unix())))
			allowed := 0
			for i := range 1800 {
				clock.Advance(time.Duration(rng.IntN(400_000)) * time.Microsecond)
				m.SetTime(clock.Now())
				req := Request{ClientID: []string{"a", "b"}[rng.IntN(2)], Tier: tiers[i/600], Cost: 1 + rng.Int64N(3)}
				want, err := local.Allow(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := remote.Allow(context.Background(), req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if want.Allowed {
					allowed++
				}
				checkResult(t, i, got, want)
				if t.Failed() {
					t.FailNow()
				}
			}
			if allowed == 0 || allowed == 1800 {
				t.Fatalf("%d of 1800 allowed: the traffic tests nothing", allowed)
			}
		})
	}
}

func TestScriptKeys(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 29, 5, 40, 30, 0, time.UTC))
	m, client := newMiniredis(t, clock)
	l := NewRedis(client, RedisOptions{Timeout: 10 * time.Second})
	tier := &Tier{Name: "t", Rate: 10, Burst: 10, Quotas: []Quota{{Minute, 100}, {Hour, 100}, {Day, 100}, {Month, 100}}}
	res, err := l.Allow(context.Background(), Request{ClientID: "batch-scorer", Tier: tier, Cost: 4})
	if err != nil || !res.Allowed {
		t.Fatalf("Allow = %+v, %v", res, err)
	}
	want := []string{
		"torchgate:rl:{batch-scorer}:gcra",
		"torchgate:rl:{batch-scorer}:q:day:20261129",
		"torchgate:rl:{batch-scorer}:q:hour:2026112905",
		"torchgate:rl:{batch-scorer}:q:minute:202611290540",
		"torchgate:rl:{batch-scorer}:q:month:202611",
	}
	if got := m.Keys(); !slices.Equal(got, want) {
		t.Fatalf("keys = %q\nwant %q", got, want)
	}
	ttls := map[string]time.Duration{
		want[0]: 400 * time.Millisecond, // TAT - now: 4 units at 100 ms
		want[1]: 18*time.Hour + 19*time.Minute + 30*time.Second + time.Minute,
		want[2]: 19*time.Minute + 30*time.Second + time.Minute,
		want[3]: 30*time.Second + time.Minute,
		want[4]: 24*time.Hour + 18*time.Hour + 19*time.Minute + 30*time.Second + time.Minute,
	}
	for k, ttl := range ttls {
		if got := m.TTL(k); got != ttl {
			t.Errorf("TTL(%s) = %v, want %v", k, got, ttl)
		}
	}
	for _, k := range want[1:] {
		if v, _ := m.Get(k); v != "4" {
			t.Errorf("%s = %q, want 4", k, v)
		}
	}
	if v, _ := m.Get(want[0]); v != "1795930830400000" {
		t.Errorf("TAT = %s, want 1795930830400000", v)
	}
}

// allWindows is a tier with a quota in every window, none of them near.
var allWindows = &Tier{Name: "all", Rate: 1, Burst: 10, Quotas: []Quota{{Minute, 100}, {Hour, 100}, {Day, 100}, {Month, 100}}}

// checkScriptKeys checks the keys one allowed script call of cost 3 at now
// (Unix µs) left: their names, values and expiry times; expireAt returns a
// key's expiry time and exists whether it has one.
func checkScriptKeys(t *testing.T, get func(key string) string, expireAt func(key string) (time.Time, bool), now int64) {
	t.Helper()
	at := time.UnixMicro(now).UTC()
	base := DefaultKeyPrefix + "{c}:"
	// TAT: 3 units at 1 per second, a plain decimal integer.
	if got, want := get(base+"gcra"), strconv.FormatInt(now+3*micros, 10); got != want {
		t.Errorf("TAT = %q, want %q", got, want)
	}
	ids := map[Window]string{Minute: "200601021504", Hour: "2006010215", Day: "20060102", Month: "200601"}
	for _, q := range allWindows.Quotas {
		key := base + "q:" + string(q.Window) + ":" + at.Format(ids[q.Window])
		if v := get(key); v != "3" {
			t.Errorf("%s = %q, want 3", key, v)
		}
		_, end := q.Window.span(at.Unix())
		if got, ok := expireAt(key); !ok || !got.Equal(time.Unix(end+60, 0)) {
			t.Errorf("%s expires at %v (%v), want %v", key, got.UTC(), ok, time.Unix(end+60, 0).UTC())
		}
	}
}

// TestScriptWindows runs the script at calendar edges: the keys it writes
// carry the UTC window ids and expire at each window's end + 60 s.
func TestScriptWindows(t *testing.T) {
	tests := []instant{
		{"Unix epoch", time.Unix(0, 0)},
		{"leap day, last microsecond", time.Date(2028, 2, 29, 23, 59, 59, 999999000, time.UTC)},
		{"February of a common year", time.Date(2027, 2, 28, 12, 30, 1, 0, time.UTC)},
		{"February of 2000, a leap century", time.Date(2000, 2, 10, 0, 0, 0, 0, time.UTC)},
		{"February of 2100, a common century", time.Date(2100, 2, 28, 23, 0, 0, 500, time.UTC)},
		{"New Year's Eve", time.Date(2026, 12, 31, 23, 59, 30, 250000000, time.UTC)},
		{"thirty-day month end", time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC)},
		{"thirty-one-day month end", time.Date(2026, 8, 31, 9, 5, 7, 0, time.UTC)},
		{"first of a month", time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(tc.at)
			m, client := newMiniredis(t, clock)
			v, err := client.Do(context.Background(),
				evalArgs(scriptCall(DefaultKeyPrefix, Request{ClientID: "c", Tier: allWindows, Cost: 3}))...).Int64Slice()
			if err != nil {
				t.Fatal(err)
			}
			allowed, now, _, err := parseReply(v, allWindows)
			if err != nil || !allowed || now != tc.at.UnixMicro() {
				t.Fatalf("reply %v, %v: want allowed at %d", v, err, tc.at.UnixMicro())
			}
			checkScriptKeys(t, func(key string) string { v, _ := m.Get(key); return v },
				func(key string) (time.Time, bool) { ttl := m.TTL(key); return tc.at.Add(ttl), ttl > 0 }, now)
		})
	}
}

// TestScriptRealRedis runs the script in a real redis-server (Lua 5.1, whose
// number formatting differs from miniredis's) at the server's own time.
func TestScriptRealRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := redisClient(t, srv, 5*time.Second)
	ctx := context.Background()
	v, err := c.Do(ctx, evalArgs(scriptCall(DefaultKeyPrefix, Request{ClientID: "c", Tier: allWindows, Cost: 3}))...).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	allowed, now, _, err := parseReply(v, allWindows)
	if err != nil || !allowed {
		t.Fatalf("reply %v, %v: want allowed", v, err)
	}
	checkScriptKeys(t, func(key string) string { return c.Get(ctx, key).Val() },
		func(key string) (time.Time, bool) {
			sec, err := c.Do(ctx, "expiretime", key).Int64()
			return time.Unix(sec, 0), err == nil && sec > 0
		}, now)
	if ttl := c.PTTL(ctx, DefaultKeyPrefix+"{c}:gcra").Val(); ttl <= 2900*time.Millisecond || ttl > 3*time.Second {
		t.Errorf("TAT expires in %v, want 3 s (the time to the TAT)", ttl)
	}
}
