// Package loadgen measures the ext_authz service the way Envoy uses it: it starts a real
// identity provider (testidp), runs the extauthz binary as a separate process, and sends Check
// RPCs over real gRPC, keeping a fixed number of them in flight. It reports throughput,
// latency percentiles and the server process's CPU time per check (read from /proc), so that
// the generator's own cost is not counted against the server. It measures the rate limit peer,
// envoyproxy/ratelimit, the same way (peer.go).
package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
	"github.com/torchgate/torchgate/extauthz/internal/testidp"
)

// Options describe one load run.
type Options struct {
	Binary      string        // path to the extauthz binary
	Duration    time.Duration // measured time, after warm-up
	Concurrency int           // Checks kept in flight (closed loop)
	Conns       int           // gRPC connections the calls are shared out over (Envoy opens one per worker thread)
	Client      string        // ClientH2 (default) or ClientGRPCGo
	Clients     int           // distinct client ids (each with its own token)
	NoCache     bool          // disable the verified-token cache: every check verifies a signature
	Limits      string        // "" (no limits), "local" (in-process limiter) or "redis" (a real redis-server)
	Profile     string        // when set, a CPU profile of the server during the measured run is written here
	Stderr      *os.File      // where the server's logs go; nil discards
	// Peer, when set, is an envoyproxy/ratelimit binary measured instead of extauthz: the same
	// generator, clients, limits and redis-server, without token checks (see peer.go).
	// Binary, NoCache, Limits and Profile do not apply to it.
	Peer    string
	PeerEnv []string // extra NAME=value settings for the peer, e.g. REDIS_PIPELINE_WINDOW=150us
}

// The clients a run can drive its calls with. Both speak gRPC over HTTP/2 to the server and
// send the same encoded requests.
const (
	// ClientH2 is this package's minimal HTTP/2 gRPC client: little CPU per call, as Envoy's.
	ClientH2 = "h2"
	// ClientGRPCGo is grpc-go's client, which costs more CPU per call than the server it
	// measures spends.
	ClientGRPCGo = "grpc-go"
)

// Result is what one run measured.
type Result struct {
	Checks     int
	Errors     int
	Denied     int
	Elapsed    time.Duration
	P50, P99   time.Duration
	ServerCPU  time.Duration // user+system CPU of the server process (extauthz or the peer) during the measured window
	LoadCPU    time.Duration // user+system CPU of this generator process during the measured window
	RedisCPU   time.Duration // user+system CPU of redis-server during the measured window (Redis limits and the peer)
	RedisWait  time.Duration // mean time a Check's limiter call took in Redis mode (extauthz's torchgate_redis_duration_seconds)
	Throughput float64       // checks per second
	FirstErr   error         // the first error, when Errors > 0
}

// CPUPerCheck is the server's CPU time per check.
func (r Result) CPUPerCheck() time.Duration {
	if r.Checks == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Checks)
}

func (r Result) String() string {
	perCheck := func(d time.Duration) float64 {
		if r.Checks == 0 {
			return 0
		}
		return float64(d.Nanoseconds()) / 1e3 / float64(r.Checks)
	}
	s := fmt.Sprintf("checks=%d errors=%d denied=%d  %.0f checks/s  p50=%s p99=%s  server CPU %.1f µs/check  generator CPU %.1f µs/check",
		r.Checks, r.Errors, r.Denied, r.Throughput, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond),
		perCheck(r.ServerCPU), perCheck(r.LoadCPU))
	if r.RedisCPU > 0 {
		s += fmt.Sprintf("  redis-server CPU %.1f µs/check", perCheck(r.RedisCPU))
	}
	if r.RedisWait > 0 {
		s += fmt.Sprintf("  redis call %s avg", r.RedisWait.Round(time.Microsecond))
	}
	if r.FirstErr != nil {
		s += fmt.Sprintf("  first error: %v", r.FirstErr)
	}
	return s
}

// Run performs one load run.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Peer != "" {
		return runPeer(ctx, o)
	}
	idp, err := testidp.New()
	if err != nil {
		return Result{}, err
	}
	defer idp.Close()
	tokens, err := mintTokens(idp, o.Clients)
	if err != nil {
		return Result{}, err
	}
	extra, rdb, stopRedis, err := limitsConfig(o.Limits)
	if err != nil {
		return Result{}, err
	}
	defer stopRedis()
	srv, err := startServer(ctx, o, idp, extra)
	if err != nil {
		return Result{}, err
	}
	defer srv.stop()

	// Warm-up: every token once through the generated client with full decoding (fills the
	// cache when it is on, and proves the answers are allowed CheckResponses).
	if err := warmUp(ctx, srv.grpcAddr, tokens); err != nil {
		return Result{}, err
	}
	reqs := make([]encodedRequest, len(tokens))
	for i, tok := range tokens {
		if reqs[i], err = proto.Marshal(request(tok)); err != nil {
			return Result{}, err
		}
	}
	t := target{srv: srv, rpc: checkRPC, reqs: reqs}
	if rdb != nil {
		t.redisPID, t.redisWait = rdb.PID(), srv.redisDuration
	}
	if o.Profile != "" {
		t.profile = srv.profile
	}
	return measure(t, o)
}

// target is a started service to put under load.
type target struct {
	srv       *server
	rpc       rpc
	reqs      []encodedRequest                         // one per client
	redisPID  int                                      // the redis-server behind srv; 0 when none
	redisWait func() (histogram, error)                // srv's Redis call durations; nil when not served
	profile   func(path string, d time.Duration) error // a CPU profile of srv; nil when not wanted
}

// measure drives t with o's concurrency over o's connections: a short burst, then the
// measured run, with the CPU time of each process during it.
func measure(t target, o Options) (Result, error) {
	callers, err := dial(t.srv.grpcAddr, t.rpc, o)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		for _, c := range callers {
			c.Close()
		}
	}()
	drive(callers, t.reqs, o.Concurrency, 500*time.Millisecond)

	// The server's metrics are scraped outside the window whose CPU is measured.
	var wait0, wait1 histogram
	if t.redisWait != nil {
		if wait0, err = t.redisWait(); err != nil {
			return Result{}, err
		}
	}
	pids := []int{t.srv.cmd.Process.Pid, os.Getpid(), t.redisPID}
	cpu0, err := processesCPU(pids)
	if err != nil {
		return Result{}, err
	}
	var prof chan error
	if t.profile != nil {
		prof = make(chan error, 1)
		go func() { prof <- t.profile(o.Profile, o.Duration) }()
	}
	res := drive(callers, t.reqs, o.Concurrency, o.Duration)
	if prof != nil {
		if err := <-prof; err != nil {
			return Result{}, err
		}
	}
	cpu1, err := processesCPU(pids)
	if err != nil {
		return Result{}, err
	}
	if t.redisWait != nil {
		if wait1, err = t.redisWait(); err != nil {
			return Result{}, err
		}
		res.RedisWait = wait1.meanSince(wait0)
	}
	res.ServerCPU, res.LoadCPU, res.RedisCPU = cpu1[0]-cpu0[0], cpu1[1]-cpu0[1], cpu1[2]-cpu0[2]
	return res, nil
}

func mintTokens(idp *testidp.IdP, n int) ([]string, error) {
	tokens := make([]string, n)
	for i := range tokens {
		alg := "RS256"
		if i%2 == 1 {
			alg = "ES256"
		}
		id := fmt.Sprintf("client-%03d", i)
		tok, err := idp.Mint(testidp.Token{Alg: alg, Claims: map[string]any{
			"sub": id, "client_id": id, "scope": "infer:mlp", "jti": fmt.Sprintf("jti-%d", i),
		}})
		if err != nil {
			return nil, err
		}
		tokens[i] = tok
	}
	return tokens, nil
}

func request(tok string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/v2/models/mlp/infer",
			Headers: map[string]string{"authorization": "Bearer " + tok, "x-request-id": "load", "content-type": "application/json"},
		}},
		ContextExtensions: map[string]string{"scope": "infer:mlp infer:all", "model": "mlp", "cost": "1"},
	}}
}

func warmUp(ctx context.Context, addr string, tokens []string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	for _, tok := range tokens {
		resp, err := client.Check(ctx, request(tok))
		if err != nil {
			return fmt.Errorf("loadgen: warm-up check: %w", err)
		}
		if resp.GetOkResponse() == nil {
			return fmt.Errorf("loadgen: warm-up check denied: %s", resp.GetStatus().GetMessage())
		}
	}
	return nil
}

// caller keeps Check calls in flight on one connection.
type caller interface {
	// run keeps slots calls in flight, closed loop, until the deadline: slot s sends
	// reqs[first+s], reqs[first+s+1], ... cyclically. It tallies the answers that arrived
	// before the deadline.
	run(reqs []encodedRequest, first, slots int, deadline time.Time) tally
	Close() error
}

// tally is what a run's calls came to.
type tally struct {
	latencies      []time.Duration // of every answered call, errors included
	errors, denied int
	err            error // the first error
}

// record counts one answered call.
func (t *tally) record(latency time.Duration, denied bool, err error) {
	t.latencies = append(t.latencies, latency)
	switch {
	case err != nil:
		t.fail(err, 1)
	case denied:
		t.denied++
	}
}

// fail counts n calls that err ended.
func (t *tally) fail(err error, n int) {
	t.errors += n
	if t.err == nil {
		t.err = err
	}
}

// dial opens o.Conns connections of the chosen client, for calls of r.
func dial(addr string, r rpc, o Options) ([]caller, error) {
	callers := make([]caller, max(o.Conns, 1))
	for i := range callers {
		var err error
		switch o.Client {
		case "", ClientH2:
			callers[i], err = dialH2(addr, r)
		case ClientGRPCGo:
			var conn *grpc.ClientConn
			conn, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			callers[i] = grpcCaller{conn, r}
		default:
			err = fmt.Errorf("loadgen: client %q is not %s or %s", o.Client, ClientH2, ClientGRPCGo)
		}
		if err != nil {
			for _, c := range callers[:i] {
				c.Close()
			}
			return nil, err
		}
	}
	return callers, nil
}

// grpcCaller makes its calls through grpc-go with answerCodec, one goroutine per slot.
type grpcCaller struct {
	*grpc.ClientConn
	rpc rpc
}

func (g grpcCaller) run(reqs []encodedRequest, first, slots int, deadline time.Time) tally {
	tallies := make([]tally, slots)
	var wg sync.WaitGroup
	for s := range tallies {
		wg.Go(func() {
			t := &tallies[s]
			for i := first + s; time.Now().Before(deadline); i++ {
				var out outcome
				t0 := time.Now()
				err := g.Invoke(context.Background(), g.rpc.method, reqs[i%len(reqs)], &out, grpc.ForceCodecV2(answerCodec{g.rpc}))
				if done := time.Now(); done.Before(deadline) { // as h2Conn: later answers are not counted
					t.record(done.Sub(t0), out.denied, err)
				}
			}
		})
	}
	wg.Wait()
	return merge(tallies)
}

// merge adds up tallies.
func merge(tallies []tally) tally {
	var all tally
	for _, t := range tallies {
		all.latencies = append(all.latencies, t.latencies...)
		all.errors += t.errors
		all.denied += t.denied
		all.err = cmp.Or(all.err, t.err)
	}
	return all
}

// drive keeps concurrency calls in flight for d, shared out among the callers, and gathers
// their results.
func drive(callers []caller, reqs []encodedRequest, concurrency int, d time.Duration) Result {
	start := time.Now()
	deadline := start.Add(d)
	tallies := make([]tally, len(callers))
	var wg sync.WaitGroup
	next := 0 // the first request of the caller's first slot
	for i, c := range callers {
		slots := concurrency / len(callers)
		if i < concurrency%len(callers) {
			slots++
		}
		first := next
		wg.Go(func() { tallies[i] = c.run(reqs, first, slots, deadline) })
		next += slots
	}
	wg.Wait()
	all := merge(tallies)
	res := Result{Errors: all.errors, Denied: all.denied, FirstErr: all.err, Checks: len(all.latencies), Elapsed: d}
	res.Throughput = float64(res.Checks) / res.Elapsed.Seconds()
	slices.Sort(all.latencies)
	if n := len(all.latencies); n > 0 {
		res.P50 = all.latencies[n/2]
		res.P99 = all.latencies[n*99/100]
	}
	return res
}

// The measured loops send requests encoded once up front and read only whether each answer is
// a denial: on shared cores, the generator's own protobuf work would take CPU from the server
// it measures (Envoy, the real client, encodes in C++).

// encodedRequest is a request message in protobuf wire format.
type encodedRequest []byte

// rpc is the unary method a run calls, and how its answers read.
type rpc struct {
	method string                            // full method name: /package.Service/Method
	denied func(answer []byte) (bool, error) // whether an answer message is a denial
}

// checkRPC is ext_authz's Check: an answer holding denied_response (field 2) is a denial.
var checkRPC = rpc{method: authv3.Authorization_Check_FullMethodName, denied: func(b []byte) (bool, error) {
	denied := false
	err := eachField(b, func(num protowire.Number, _ []byte) { denied = denied || num == 2 })
	return denied, err
}}

// eachField calls fn with the number and the value bytes of each top-level field of message b.
func eachField(b []byte, fn func(num protowire.Number, value []byte)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return protowire.ParseError(n)
		}
		fn(num, b[:n])
		b = b[n:]
	}
	return nil
}

// outcome is what the generator keeps of an answer.
type outcome struct{ denied bool }

// answerCodec sends encodedRequests and reads outcomes of its rpc's answers.
type answerCodec struct{ rpc rpc }

// Marshal implements encoding.CodecV2.
func (answerCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(encodedRequest)
	if !ok {
		return nil, fmt.Errorf("loadgen: cannot send %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal implements encoding.CodecV2.
func (c answerCodec) Unmarshal(data mem.BufferSlice, v any) error {
	out, ok := v.(*outcome)
	if !ok {
		return fmt.Errorf("loadgen: cannot read into %T", v)
	}
	var err error
	out.denied, err = c.rpc.denied(data.Materialize())
	return err
}

// Name implements encoding.CodecV2.
func (answerCodec) Name() string { return "proto" }

type server struct {
	cmd      *exec.Cmd
	grpcAddr string
	httpAddr string
	dir      string
}

// histogram is the sum and count of a Prometheus histogram.
type histogram struct {
	sum   float64
	count uint64
}

// meanSince returns the mean of the observations made since h0, in seconds as a duration.
func (h histogram) meanSince(h0 histogram) time.Duration {
	if h.count <= h0.count {
		return 0
	}
	return time.Duration((h.sum - h0.sum) / float64(h.count-h0.count) * float64(time.Second))
}

// redisDuration reads the server's torchgate_redis_duration_seconds histogram from /metrics.
func (s *server) redisDuration() (histogram, error) {
	resp, err := http.Get("http://" + s.httpAddr + "/metrics")
	if err != nil {
		return histogram{}, fmt.Errorf("loadgen: metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return histogram{}, fmt.Errorf("loadgen: metrics: %w", err)
	}
	var h histogram
	var errSum, errCount error = errors.New("missing"), errors.New("missing")
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "torchgate_redis_duration_seconds_sum "); ok {
			h.sum, errSum = strconv.ParseFloat(strings.TrimSpace(v), 64)
		} else if v, ok := strings.CutPrefix(line, "torchgate_redis_duration_seconds_count "); ok {
			h.count, errCount = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := errors.Join(errSum, errCount); err != nil {
		return histogram{}, fmt.Errorf("loadgen: torchgate_redis_duration_seconds: %w", err)
	}
	return h, nil
}

// profile saves a CPU profile of the server process taken over d.
func (s *server) profile(path string, d time.Duration) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.httpAddr, int(d.Seconds())))
	if err != nil {
		return fmt.Errorf("loadgen: profile: %w", err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// limitsConfig returns the configuration for the limits mode: tiers far above the offered load
// (every check runs the limiter and passes), in-process or backed by a redis-server started here
// (which it returns, else nil), and what stops that.
func limitsConfig(mode string) (string, *redistest.Server, func(), error) {
	const tiers = "default_tier: load\ntiers:\n  load: {rate: 1000000, burst: 1000000, quotas: {day: 1000000000000}}\n"
	switch mode {
	case "":
		return "", nil, func() {}, nil
	case "local":
		return tiers, nil, func() {}, nil
	case "redis":
		rdb, stop, err := startRedis()
		if err != nil {
			return "", nil, nil, err
		}
		return fmt.Sprintf("redis: {url: %q}\n", rdb.URL()) + tiers, rdb, stop, nil
	}
	return "", nil, nil, fmt.Errorf("loadgen: limits mode %q is not \"\", local or redis", mode)
}

// startRedis runs a redis-server in a new directory, and returns it and what stops it.
func startRedis() (*redistest.Server, func(), error) {
	dir, err := os.MkdirTemp("", "authzload-redis")
	if err != nil {
		return nil, nil, err
	}
	rdb, err := redistest.Run(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return rdb, func() { rdb.Kill(); os.RemoveAll(dir) }, nil
}

func startServer(ctx context.Context, o Options, idp *testidp.IdP, extra string) (*server, error) {
	dir, err := os.MkdirTemp("", "authzload")
	if err != nil {
		return nil, err
	}
	grpcAddr, httpAddr := freeAddr(), freeAddr()
	cacheSize := 100000
	if o.NoCache {
		cacheSize = -1
	}
	cfg := fmt.Sprintf(`listen: {grpc: %q, http: %q}
issuers:
  - issuer: %s
    audiences: [torchgate]
token_cache: {size: %d}
audit: {path: %q}
log_level: warn
debug_pprof: %t
%s`, grpcAddr, httpAddr, idp.URL(), cacheSize, filepath.Join(dir, "audit.log"), o.Profile != "", extra)
	path := filepath.Join(dir, "extauthz.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.Binary, "serve", "--config", path)
	cmd.Stderr = o.Stderr
	return start(cmd, grpcAddr, httpAddr, "/readyz", dir)
}

// start starts cmd, a server on grpcAddr and httpAddr that owns dir, and waits until
// httpAddr answers readyPath with 200 OK.
func start(cmd *exec.Cmd, grpcAddr, httpAddr, readyPath, dir string) (*server, error) {
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("loadgen: start %s: %w", cmd.Path, err)
	}
	s := &server{cmd: cmd, grpcAddr: grpcAddr, httpAddr: httpAddr, dir: dir}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("loadgen: %s did not become ready in 15s", filepath.Base(cmd.Path))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
	os.RemoveAll(s.dir)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux).
const clockTicks = 100

// processesCPU returns the user+system CPU time each process has used; 0 for pid 0.
func processesCPU(pids []int) ([]time.Duration, error) {
	cpu := make([]time.Duration, len(pids))
	for i, pid := range pids {
		if pid == 0 {
			continue
		}
		var err error
		if cpu[i], err = processCPU(pid); err != nil {
			return nil, err
		}
	}
	return cpu, nil
}

// processCPU returns the user+system CPU time a process has used (Linux /proc).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: process CPU: %w", err)
	}
	// Fields after the parenthesised command name: state is field 3; utime 14, stime 15.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, errors.New("loadgen: short /proc stat line")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("loadgen: unreadable /proc stat times")
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
