package server

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
	"github.com/torchgate/torchgate/extauthz/internal/testidp"
)

// limitsConfig configures Redis limits. The accuracy tests use a generous Redis timeout: on a
// loaded 2-core machine a 20 ms timeout would send some decisions to the degraded local
// fallback, which is approximate by design, and these tests pin the exact Redis path.
func limitsConfig(redisURL, onError string, tiers string) string {
	return fmt.Sprintf(`redis: {url: %q, on_error: %s, timeout: 1s, replicas: 3}
default_tier: free
tiers:
%s
`, redisURL, onError, tiers)
}

// replicas starts n servers sharing one IdP and one configuration.
func replicas(t *testing.T, n int, extra string) (*testidp.IdP, []*harness) {
	idp, err := testidp.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	hs := make([]*harness, n)
	for i := range hs {
		hs[i] = startWith(t, idp, extra)
	}
	return idp, hs
}

func allowed(h *harness, tok string) (bool, int32) {
	resp, err := h.client.Check(context.Background(), checkRequest("POST", "/v2/models/mlp/infer", bearer(tok), nil))
	if err != nil {
		h.t.Errorf("Check: %v", err)
		return false, 0
	}
	if resp.GetOkResponse() != nil {
		return true, 200
	}
	return false, int32(resp.GetDeniedResponse().GetStatus().GetCode())
}

// TestRateIsExactAcrossReplicas offers one client three times its rate for 5 s, spread over
// three extauthz servers sharing one real Redis: the allowed count must be rate·time + burst.
func TestRateIsExactAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s accuracy run")
	}
	rdb := redistest.Start(t)
	_, hs := replicas(t, 3, limitsConfig(rdb.URL(), "local", "  free: {rate: 100, burst: 50}"))
	tok := hs[0].mint(testidp.Token{Claims: map[string]any{"client_id": "accuracy"}})

	const perServer = 100 // requests per second per server: 3× the rate in total
	var ok atomic.Int64
	var first, last atomic.Int64 // unix nanos of the first and last allowed request
	var wg sync.WaitGroup
	stop := time.Now().Add(5 * time.Second)
	for _, h := range hs {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / perServer)
			defer tick.Stop()
			// Open loop: each tick's Check runs on its own, so a slow answer on a loaded
			// machine does not lower the offered rate below the limit.
			var calls sync.WaitGroup
			defer calls.Wait()
			for now := range tick.C {
				if now.After(stop) {
					return
				}
				calls.Go(func() {
					if a, _ := allowed(h, tok); a {
						n := time.Now().UnixNano()
						first.CompareAndSwap(0, n)
						for {
							l := last.Load()
							if n <= l || last.CompareAndSwap(l, n) {
								break
							}
						}
						ok.Add(1)
					}
				})
			}
		})
	}
	wg.Wait()
	elapsed := time.Duration(last.Load() - first.Load()).Seconds()
	want := 100*elapsed + 50
	got := float64(ok.Load())
	if math.Abs(got-want) > 0.02*want {
		t.Errorf("allowed %v over %.2fs, want %.0f ± 2%%", got, elapsed, want)
	}
	t.Logf("allowed %v, expected %.1f (rate·time + burst)", got, want)
}

// TestQuotaNeverExceeded fires 3× a daily quota concurrently through three replicas.
func TestQuotaNeverExceeded(t *testing.T) {
	if now := time.Now().UTC(); now.Hour() == 23 && now.Minute() == 59 {
		time.Sleep(time.Minute) // do not straddle the day window
	}
	rdb := redistest.Start(t)
	_, hs := replicas(t, 3, limitsConfig(rdb.URL(), "local", "  free: {rate: 100000, burst: 100000, quotas: {day: 200}}"))
	tok := hs[0].mint(testidp.Token{Claims: map[string]any{"client_id": "quota"}})
	var ok, quota atomic.Int64
	var wg sync.WaitGroup
	for i := range 600 {
		wg.Go(func() {
			a, status := allowed(hs[i%3], tok)
			switch {
			case a:
				ok.Add(1)
			case status == 429:
				quota.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 200 || quota.Load() != 400 {
		t.Errorf("allowed %d, 429 %d; want exactly 200 and 400", ok.Load(), quota.Load())
	}
}

// TestOneRedisCommandPerCheck watches Redis with MONITOR: each allowed Check sends exactly one
// command (the EVALSHA of the limits script), whatever the script does inside.
func TestOneRedisCommandPerCheck(t *testing.T) {
	rdb := redistest.Start(t)
	_, hs := replicas(t, 1, limitsConfig(rdb.URL(), "local", "  free: {rate: 1000, burst: 1000, quotas: {minute: 100000, day: 1000000}}"))
	h := hs[0]
	tok := h.mint(testidp.Token{})
	allowed(h, tok) // loads the script

	// MONITOR over a raw connection: one line per command, script-internal ones tagged "lua".
	mon, err := net.Dial("tcp", rdb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(mon)
	if l, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+OK") {
		t.Fatalf("MONITOR: %q %v", l, err)
	}
	const n = 50
	for range n {
		if a, status := allowed(h, tok); !a {
			t.Fatalf("denied %d", status)
		}
	}
	_ = mon.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	top := map[string]int{}
	for {
		l, err := rd.ReadString('\n')
		if err != nil {
			break
		}
		if strings.Contains(l, "[0 lua]") {
			continue
		}
		if f := strings.Fields(l); len(f) > 3 {
			top[strings.ToLower(strings.Trim(f[3], `"`))]++
		}
	}
	if top["evalsha"] != n || len(top) != 1 {
		t.Errorf("top-level commands for %d checks: %v, want only %d evalsha", n, top, n)
	}
}

func TestRedisDownDenyIs503AndRecovers(t *testing.T) {
	rdb := redistest.Start(t)
	_, hs := replicas(t, 1, limitsConfig(rdb.URL(), "deny", "  free: {rate: 1000, burst: 1000}"))
	h := hs[0]
	tok := h.mint(testidp.Token{})
	if a, status := allowed(h, tok); !a {
		t.Fatalf("denied %d with redis up", status)
	}
	rdb.Kill()
	start := time.Now()
	if a, status := allowed(h, tok); a || status != 503 {
		t.Errorf("redis down with on_error deny: allowed=%v status=%d, want 503", a, status)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("check took %s with redis down", d)
	}
	// Authentication never depends on Redis: a bad token is still 401, not 503.
	if _, status := allowed(h, "not.a.token"); status != 401 {
		t.Errorf("bad token with redis down: status %d, want 401", status)
	}
	if err := rdb.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery after redis restart", func() bool { a, _ := allowed(h, tok); return a })
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("recovery took %s", d)
	}
}

func TestRedisDownLocalKeepsServingDegraded(t *testing.T) {
	rdb := redistest.Start(t)
	_, hs := replicas(t, 1, limitsConfig(rdb.URL(), "local", "  free: {rate: 1000, burst: 1000}"))
	h := hs[0]
	tok := h.mint(testidp.Token{})
	rdb.Kill()
	for range 5 {
		if a, status := allowed(h, tok); !a {
			t.Fatalf("denied %d in degraded local mode", status)
		}
	}
}
