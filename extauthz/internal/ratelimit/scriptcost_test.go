package ratelimit

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// scriptCostCases are the tiers of BenchmarkScriptCost: no quota, the
// common day quota, and all four windows. Every limit is out of reach, so
// each call takes the full path: check and consume all limits.
var scriptCostCases = []struct {
	name   string
	quotas []Quota
}{
	{"quotas=0", nil},
	{"quotas=1", []Quota{{Day, 1 << 50}}},
	{"quotas=4", []Quota{{Minute, 1 << 50}, {Hour, 1 << 50}, {Day, 1 << 50}, {Month, 1 << 50}}},
}

// BenchmarkScriptCost measures the script's cost inside a real redis-server:
// calls for 1000 clients go out in pipelines of 256, so the network and the
// client hardly count, and redis-us/call is the time Redis spent in EVALSHA
// per call (INFO commandstats: the script with the commands it calls).
// redis-cpu-ns/op is the Redis process's CPU time per call, reading and
// writing the pipelines included.
func BenchmarkScriptCost(b *testing.B) {
	srv := redistest.Start(b)
	c := redisClient(b, srv, 10*time.Second)
	if err := c.ScriptLoad(context.Background(), scriptSource).Err(); err != nil {
		b.Fatal(err)
	}
	for _, tc := range scriptCostCases {
		tier := &Tier{Name: "bench", Rate: 1e6, Burst: 1 << 40, Quotas: tc.quotas}
		b.Run(tc.name, func(b *testing.B) { benchScriptCost(b, c, srv.PID(), tier) })
	}
}

// scriptCostBatch is the number of script calls in one pipeline.
const scriptCostBatch = 256

// benchScriptCost runs the script for tier in pipelines, each reply checked
// (allowed), and reports Redis's time and CPU time per call.
func benchScriptCost(b *testing.B, c redis.UniversalClient, redisPID int, tier *Tier) {
	ctx := context.Background()
	reqs := make([]Request, 1000)
	for i := range reqs {
		reqs[i] = Request{ClientID: "client-" + strconv.Itoa(i), Tier: tier, Cost: 1}
	}
	cmds := make([]*redis.Cmd, 0, scriptCostBatch)
	flush := func() {
		pipe := c.Pipeline()
		for _, cmd := range cmds {
			_ = pipe.Process(ctx, cmd)
		}
		_, _ = pipe.Exec(ctx) // each command carries its own error
		for _, cmd := range cmds {
			v, err := cmd.Int64Slice()
			if err != nil {
				b.Fatal(err)
			}
			if allowed, _, _, err := parseReply(v, tier); err != nil || !allowed {
				b.Fatalf("script reply %v, %v: want allowed", v, err)
			}
		}
		cmds = cmds[:0]
	}
	call := func(i int) {
		cmds = append(cmds, redis.NewCmd(ctx, scriptCall(DefaultKeyPrefix, reqs[i%len(reqs)])...))
		if len(cmds) == scriptCostBatch {
			flush()
		}
	}
	// Every client's keys exist before the measurement, as in steady traffic.
	for i := range reqs {
		call(i)
	}
	flush()
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	stop := reportCPU(b, redisPID)
	i := 0
	for b.Loop() {
		call(i)
		i++
	}
	flush()
	stop()
	b.ReportMetric(evalshaMicros(b, c), "redis-us/call")
}

// evalshaMicros returns the microseconds per EVALSHA call in INFO
// commandstats, from the total (usec) and the count (calls) since the last
// CONFIG RESETSTAT.
func evalshaMicros(b *testing.B, c redis.Cmdable) float64 {
	b.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		fields := map[string]float64{}
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			fields[k], _ = strconv.ParseFloat(v, 64)
		}
		if fields["calls"] == 0 {
			break
		}
		return fields["usec"] / fields["calls"]
	}
	b.Fatalf("no evalsha calls in INFO commandstats:\n%s", info)
	return 0
}
