package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// protocolOptionsKey is the only typed_extension_protocol_options key the dev edge reads.
const protocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// defaultConnectTimeout is Envoy's connect_timeout default.
const defaultConnectTimeout = 5 * time.Second

// cluster is a STATIC cluster: fixed endpoints, round robin, optional active health checks.
type cluster struct {
	name      string
	http2     bool // h2c prior knowledge upstream (gRPC)
	endpoints []*endpoint
	transport *http.Transport
	health    *healthCheck // nil: no active health checking
	next      atomic.Uint64
}

type endpoint struct {
	addr    string
	healthy atomic.Bool
}

type healthCheck struct {
	timeout, interval  time.Duration
	unhealthy, healthy int
	httpPath           string // HTTP check: GET path, 200 expected
	grpc               bool   // gRPC check: grpc.health.v1 Check
	grpcService        string
}

func newCluster(c *clusterv3.Cluster, override, path string) (*cluster, error) {
	cl := &cluster{name: c.GetName()}
	for k, a := range c.GetTypedExtensionProtocolOptions() {
		p := fmt.Sprintf("%s.typed_extension_protocol_options[%q]", path, k)
		if k != protocolOptionsKey {
			return nil, fmt.Errorf("%w: %s: extension not implemented", ErrUnsupported, p)
		}
		m, err := unpack(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		po, ok := m.(*upstreamhttpv3.HttpProtocolOptions)
		if !ok || po.GetExplicitHttpConfig() == nil {
			return nil, fmt.Errorf("%w: %s: only explicit_http_config is implemented", ErrUnsupported, p)
		}
		cl.http2 = po.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
	}
	if override != "" {
		cl.endpoints = []*endpoint{{addr: override}}
	} else {
		for _, lle := range c.GetLoadAssignment().GetEndpoints() {
			for _, le := range lle.GetLbEndpoints() {
				if a := socketAddress(le.GetEndpoint().GetAddress()); a != "" {
					cl.endpoints = append(cl.endpoints, &endpoint{addr: a})
				}
			}
		}
	}
	if len(cl.endpoints) == 0 {
		return nil, fmt.Errorf("%w: %s.load_assignment: a STATIC cluster needs at least one socket_address endpoint", ErrInvalid, path)
	}
	connect := defaultConnectTimeout
	if t := c.GetConnectTimeout(); t != nil {
		connect = t.AsDuration()
	}
	cl.transport = newTransport(connect, cl.http2)
	if n := len(c.GetHealthChecks()); n > 1 {
		return nil, fmt.Errorf("%w: %s.health_checks: at most one health check", ErrUnsupported, path)
	} else if n == 1 {
		hc, err := newHealthCheck(c.GetHealthChecks()[0], fmt.Sprintf("%s.health_checks[0]", path))
		if err != nil {
			return nil, err
		}
		cl.health = hc
	}
	return cl, nil
}

func newTransport(connect time.Duration, http2 bool) *http.Transport {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Hour, // Envoy's upstream idle timeout default
		Protocols:           new(http.Protocols),
	}
	if http2 {
		t.Protocols.SetUnencryptedHTTP2(true)
	} else {
		t.Protocols.SetHTTP1(true)
	}
	return t
}

func newHealthCheck(h *corev3.HealthCheck, path string) (*healthCheck, error) {
	hc := &healthCheck{
		timeout:   h.GetTimeout().AsDuration(),
		interval:  h.GetInterval().AsDuration(),
		unhealthy: int(h.GetUnhealthyThreshold().GetValue()),
		healthy:   int(h.GetHealthyThreshold().GetValue()),
	}
	switch {
	case h.GetHttpHealthCheck() != nil:
		hc.httpPath = h.GetHttpHealthCheck().GetPath()
	case h.GetGrpcHealthCheck() != nil:
		hc.grpc, hc.grpcService = true, h.GetGrpcHealthCheck().GetServiceName()
	default:
		return nil, fmt.Errorf("%w: %s: only http_health_check and grpc_health_check are implemented", ErrUnsupported, path)
	}
	return hc, nil
}

// pick chooses the next endpoint round robin among the healthy ones. As in Envoy (default
// healthy_panic_threshold 50%), when fewer than half are healthy every endpoint is used.
func (c *cluster) pick() *endpoint {
	n := c.next.Add(1)
	if c.health == nil {
		return c.endpoints[n%uint64(len(c.endpoints))]
	}
	healthy := make([]*endpoint, 0, len(c.endpoints))
	for _, ep := range c.endpoints {
		if ep.healthy.Load() {
			healthy = append(healthy, ep)
		}
	}
	if 2*len(healthy) < len(c.endpoints) {
		return c.endpoints[n%uint64(len(c.endpoints))]
	}
	return healthy[n%uint64(len(healthy))]
}

// runHealthChecks probes every endpoint each interval until ctx is done. Endpoints start
// unhealthy (pending their first check), as in Envoy.
func (c *cluster) runHealthChecks(ctx context.Context, logger *slog.Logger) {
	if c.health == nil {
		return
	}
	for _, ep := range c.endpoints {
		go c.probeLoop(ctx, ep, logger)
	}
}

func (c *cluster) probeLoop(ctx context.Context, ep *endpoint, logger *slog.Logger) {
	var conn *grpc.ClientConn
	if c.health.grpc {
		var err error
		if conn, err = grpc.NewClient("passthrough:///"+ep.addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			logger.Error("health check disabled", "cluster", c.name, "endpoint", ep.addr, "err", err)
			return
		}
		defer conn.Close()
	}
	client := &http.Client{Transport: c.transport, Timeout: c.health.timeout}
	passes, fails := 0, 0
	t := time.NewTicker(c.health.interval)
	defer t.Stop()
	for {
		err := c.probe(ctx, ep, client, conn)
		if err == nil {
			passes, fails = passes+1, 0
			if !ep.healthy.Load() && passes >= c.health.healthy {
				ep.healthy.Store(true)
				logger.Info("upstream healthy", "cluster", c.name, "endpoint", ep.addr)
			}
		} else {
			passes, fails = 0, fails+1
			if ep.healthy.Load() && fails >= c.health.unhealthy {
				ep.healthy.Store(false)
				logger.Warn("upstream unhealthy", "cluster", c.name, "endpoint", ep.addr, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *cluster) probe(ctx context.Context, ep *endpoint, client *http.Client, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, c.health.timeout)
	defer cancel()
	if conn != nil {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: c.health.grpcService})
		if err != nil {
			return err
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("edge: health: %v", resp.GetStatus())
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ep.addr+c.health.httpPath, nil)
	if err != nil {
		return err
	}
	req.Host = c.name // Envoy's default health check host
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("edge: health: status %d", resp.StatusCode)
	}
	return nil
}
