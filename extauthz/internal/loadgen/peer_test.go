package loadgen

import (
	"context"
	"testing"
	"time"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// fakeRLS answers ShouldRateLimit OVER_LIMIT for the client "client-deny" and OK for others,
// with a status per descriptor, as envoyproxy/ratelimit does: with the limit that applies to
// the descriptors peerConfig configures, and none to others.
type fakeRLS struct {
	rlsv3.UnimplementedRateLimitServiceServer
}

func (fakeRLS) ShouldRateLimit(_ context.Context, r *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	code := rlsv3.RateLimitResponse_OK
	if r.GetDescriptors()[0].GetEntries()[0].GetValue() == "client-deny" {
		code = rlsv3.RateLimitResponse_OVER_LIMIT
	}
	resp := &rlsv3.RateLimitResponse{OverallCode: code}
	for _, d := range r.GetDescriptors() {
		st := &rlsv3.RateLimitResponse_DescriptorStatus{Code: code}
		if key := d.GetEntries()[0].GetKey(); key == "client_rate" || key == "client_day" {
			st.CurrentLimit = &rlsv3.RateLimitResponse_RateLimit{RequestsPerUnit: 10, Unit: rlsv3.RateLimitResponse_RateLimit_SECOND}
		}
		resp.Statuses = append(resp.Statuses, st)
	}
	return resp, nil
}

// startFakeRLS serves fakeRLS on a loopback port until the test ends.
func startFakeRLS(t *testing.T) string {
	addr, _ := serveGRPC(t, func(gs *grpc.Server) { rlsv3.RegisterRateLimitServiceServer(gs, fakeRLS{}) })
	return addr
}

func TestPeerRPCReadsDenials(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   rlsv3.RateLimitResponse_Code
		denied bool
	}{
		{"ok", rlsv3.RateLimitResponse_OK, false},
		{"over limit", rlsv3.RateLimitResponse_OVER_LIMIT, true},
		{"unknown", rlsv3.RateLimitResponse_UNKNOWN, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := proto.Marshal(&rlsv3.RateLimitResponse{OverallCode: tc.code, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{
				{Code: rlsv3.RateLimitResponse_OVER_LIMIT, LimitRemaining: 2}, // a descriptor's code is not the answer's
			}})
			if err != nil {
				t.Fatal(err)
			}
			if denied, err := peerRPC.denied(b); err != nil || denied != tc.denied {
				t.Errorf("denied = %v, %v; want %v", denied, err, tc.denied)
			}
		})
	}
	if _, err := peerRPC.denied([]byte{0x08}); err == nil {
		t.Error("truncated answer: no error")
	}
}

// TestPeerCalls drives ShouldRateLimit with both clients: the requests the peer is sent reach
// a RateLimitService as written, and OVER_LIMIT answers count as denials.
func TestPeerCalls(t *testing.T) {
	addr := startFakeRLS(t)
	encode := func(client string) encodedRequest {
		b, err := proto.Marshal(peerRequest(client))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reqs := []encodedRequest{encode("client-deny")}
	for range 9 {
		reqs = append(reqs, encode("client-ok"))
	}
	for _, client := range []string{ClientH2, ClientGRPCGo} {
		t.Run(client, func(t *testing.T) {
			callers, err := dial(addr, peerRPC, Options{Conns: 1, Client: client})
			if err != nil {
				t.Fatal(err)
			}
			defer callers[0].Close()
			got := callers[0].run(reqs, 0, 10, time.Now().Add(300*time.Millisecond))
			n := len(got.latencies)
			if got.errors != 0 || n < 100 {
				t.Fatalf("%d calls, %d errors (%v)", n, got.errors, got.err)
			}
			if lo, hi := (n-10)/10, (n+10)/10+1; got.denied < lo || got.denied > hi {
				t.Errorf("%d denials in %d answers, want about a tenth", got.denied, n)
			}
		})
	}
}

func TestWarmUpPeerWantsEveryDescriptorLimited(t *testing.T) {
	addr := startFakeRLS(t)
	ctx := context.Background()
	if err := warmUpPeer(ctx, addr, []*rlsv3.RateLimitRequest{peerRequest("client-1")}); err != nil {
		t.Errorf("allowed with both limits: %v", err)
	}
	if err := warmUpPeer(ctx, addr, []*rlsv3.RateLimitRequest{peerRequest("client-deny")}); err == nil {
		t.Error("over limit: no error")
	}
	unconfigured := peerRequest("client-1")
	unconfigured.Descriptors[1].Entries[0].Key = "client_month"
	if err := warmUpPeer(ctx, addr, []*rlsv3.RateLimitRequest{unconfigured}); err == nil {
		t.Error("a descriptor without a limit: no error")
	}
}
