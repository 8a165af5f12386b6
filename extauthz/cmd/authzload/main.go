// Command authzload is the ext_authz load generator: it runs the extauthz binary against a
// real JWKS server and drives Check over real gRPC, printing throughput, latency percentiles
// and the server's CPU time per check. With -peer it measures envoyproxy/ratelimit instead, the
// same way and with the same limits as -limits redis. See BENCHMARKS.md for how the published
// numbers were made.
//
// Usage:
//
//	authzload -extauthz bin/extauthz [-duration 10s] [-concurrency 16] [-conns 2] [-clients 100] [-client h2|grpc-go] [-no-cache] [-limits local|redis] [-runs 3]
//	authzload -peer bin/ratelimit [-peer-env NAME=value]... [-duration 10s] [-concurrency 16] [-conns 2] [-clients 100] [-runs 3]
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/loadgen"
)

func main() {
	var o loadgen.Options
	flag.StringVar(&o.Binary, "extauthz", "bin/extauthz", "extauthz binary to run")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "measured duration per run")
	flag.IntVar(&o.Concurrency, "concurrency", 16, "Checks kept in flight (closed loop)")
	flag.IntVar(&o.Conns, "conns", 2, "gRPC connections (Envoy opens one per worker, and runs a worker per core)")
	flag.StringVar(&o.Client, "client", loadgen.ClientH2, `gRPC client: "h2" (minimal, little CPU per call, like Envoy's) or "grpc-go"`)
	flag.IntVar(&o.Clients, "clients", 100, "distinct clients (tokens), RS256 and ES256 alternating")
	flag.BoolVar(&o.NoCache, "no-cache", false, "disable the verified-token cache")
	flag.StringVar(&o.Limits, "limits", "", `rate limits in the path: "" none, "local" in-process, "redis" a real redis-server`)
	flag.StringVar(&o.Profile, "cpuprofile", "", "write a CPU profile of the server (last run) to this file")
	flag.StringVar(&o.Peer, "peer", "", "measure this envoyproxy/ratelimit binary instead of extauthz (make peer builds it)")
	flag.Func("peer-env", "a NAME=value setting for the peer, e.g. REDIS_PIPELINE_WINDOW=150us (repeatable)", func(s string) error {
		if name, _, ok := strings.Cut(s, "="); !ok || name == "" {
			return fmt.Errorf("%q is not NAME=value", s)
		}
		o.PeerEnv = append(o.PeerEnv, s)
		return nil
	})
	clientProfile := flag.String("client-cpuprofile", "", "write a CPU profile of this load generator to this file")
	runs := flag.Int("runs", 3, "runs; the median by throughput is reported last")
	flag.Parse()

	if *clientProfile != "" {
		f, err := os.Create(*clientProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "authzload:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var results []loadgen.Result
	for i := range *runs {
		r, err := loadgen.Run(context.Background(), o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "authzload:", err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
		fmt.Printf("run %d: %s\n", i+1, r)
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b loadgen.Result) int { return cmp.Compare(a.Throughput, b.Throughput) })
	fmt.Printf("median: %s\n", results[len(results)/2])
}
