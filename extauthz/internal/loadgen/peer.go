package loadgen

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The peer is envoyproxy/ratelimit, the rate limit service Envoy's documentation points to,
// measured as extauthz's Redis mode is: the same generator, connections and concurrency, the
// same number of clients, a redis-server started the same way, and the same limits per
// client — a rate per second and a quota per day, far above the offered load, so that every
// call is counted in Redis and allowed. It checks no tokens.

// peerDomain is the rate limit domain of the peer's configuration and requests.
const peerDomain = "torchgate-load"

// peerConfig is the peer's configuration: per client a limit per second and one per day, each
// out of the load's reach. A request names its client under both keys (peerRequest).
const peerConfig = `domain: ` + peerDomain + `
descriptors:
  - key: client_rate
    rate_limit: {unit: second, requests_per_unit: 1000000000}
  - key: client_day
    rate_limit: {unit: day, requests_per_unit: 4000000000}
`

// peerRPC is envoyproxy/ratelimit's ShouldRateLimit: an answer whose overall_code (field 1)
// is OVER_LIMIT is a denial.
var peerRPC = rpc{method: rlsv3.RateLimitService_ShouldRateLimit_FullMethodName, denied: func(b []byte) (bool, error) {
	denied := false
	err := eachField(b, func(num protowire.Number, v []byte) {
		if num == 1 {
			code, n := protowire.ConsumeVarint(v)
			denied = n > 0 && code == uint64(rlsv3.RateLimitResponse_OVER_LIMIT)
		}
	})
	return denied, err
}}

// peerRequest is the ShouldRateLimit request of a client: one hit on both of its limits.
func peerRequest(client string) *rlsv3.RateLimitRequest {
	descriptor := func(key string) *ratelimitv3.RateLimitDescriptor {
		return &ratelimitv3.RateLimitDescriptor{Entries: []*ratelimitv3.RateLimitDescriptor_Entry{{Key: key, Value: client}}}
	}
	return &rlsv3.RateLimitRequest{
		Domain: peerDomain, HitsAddend: 1,
		Descriptors: []*ratelimitv3.RateLimitDescriptor{descriptor("client_rate"), descriptor("client_day")},
	}
}

// runPeer performs one load run of the peer.
func runPeer(ctx context.Context, o Options) (Result, error) {
	rdb, stopRedis, err := startRedis()
	if err != nil {
		return Result{}, err
	}
	defer stopRedis()
	srv, err := startPeer(ctx, o, rdb.Addr())
	if err != nil {
		return Result{}, err
	}
	defer srv.stop()

	msgs := make([]*rlsv3.RateLimitRequest, max(o.Clients, 1))
	reqs := make([]encodedRequest, len(msgs))
	for i := range msgs {
		msgs[i] = peerRequest(fmt.Sprintf("client-%03d", i))
		if reqs[i], err = proto.Marshal(msgs[i]); err != nil {
			return Result{}, err
		}
	}
	if err := warmUpPeer(ctx, srv.grpcAddr, msgs); err != nil {
		return Result{}, err
	}
	return measure(target{srv: srv, rpc: peerRPC, reqs: reqs, redisPID: rdb.PID()}, o)
}

// startPeer starts the peer binary on loopback ports, with redisAddr as its Redis, and waits
// for its health check.
func startPeer(ctx context.Context, o Options, redisAddr string) (*server, error) {
	dir, err := os.MkdirTemp("", "authzload-peer")
	if err != nil {
		return nil, err
	}
	configDir := filepath.Join(dir, "ratelimit", "config")
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(configDir, "load.yaml"), []byte(peerConfig), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	grpcAddr, httpAddr, debugAddr := freeAddr(), freeAddr(), freeAddr()
	// listen gives the peer's PREFIX HOST and PORT settings of addr.
	listen := func(prefix, addr string) []string {
		host, port, _ := net.SplitHostPort(addr)
		return []string{prefix + "HOST=" + host, prefix + "PORT=" + port}
	}
	cmd := exec.CommandContext(ctx, o.Peer)
	cmd.Env = slices.Concat(os.Environ(), []string{
		"USE_STATSD=false", "LOG_LEVEL=warn", "BACKEND_TYPE=redis",
		"REDIS_SOCKET_TYPE=tcp", "REDIS_URL=" + redisAddr,
		"RUNTIME_ROOT=" + dir, "RUNTIME_SUBDIRECTORY=ratelimit", "RUNTIME_APPDIRECTORY=config", "RUNTIME_WATCH_ROOT=false",
	}, listen("GRPC_", grpcAddr), listen("", httpAddr), listen("DEBUG_", debugAddr), o.PeerEnv)
	cmd.Stderr = o.Stderr
	return start(cmd, grpcAddr, httpAddr, "/healthcheck", dir)
}

// warmUpPeer sends each request once through the generated client with full decoding, and
// fails unless every one is allowed with a limit on each descriptor: the configuration matched
// and the peer counts both limits in Redis.
func warmUpPeer(ctx context.Context, addr string, reqs []*rlsv3.RateLimitRequest) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := rlsv3.NewRateLimitServiceClient(conn)
	for _, req := range reqs {
		resp, err := client.ShouldRateLimit(ctx, req)
		if err != nil {
			return fmt.Errorf("loadgen: peer warm-up: %w", err)
		}
		if code := resp.GetOverallCode(); code != rlsv3.RateLimitResponse_OK {
			return fmt.Errorf("loadgen: peer warm-up answered %s, want OK", code)
		}
		limited := 0
		for _, st := range resp.GetStatuses() {
			if st.GetCurrentLimit() != nil {
				limited++
			}
		}
		if limited != len(req.GetDescriptors()) {
			return fmt.Errorf("loadgen: peer warm-up: %d of %d descriptors have a limit", limited, len(req.GetDescriptors()))
		}
	}
	return nil
}
