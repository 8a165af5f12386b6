package edge

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	bufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
)

// Options adjust a compiled edge without editing the file. The zero value keeps every address
// the file names.
type Options struct {
	// Listen replaces the listener's address (host:port) when not empty.
	Listen string
	// Admin replaces the admin address when not empty; "off" serves no admin endpoint.
	Admin string
	// Clusters replaces, by cluster name, all of a cluster's endpoints with one host:port.
	Clusters map[string]string
	// AccessLog receives the access log lines; nil means os.Stdout.
	AccessLog io.Writer
	// Logger receives operational logs (never tokens); nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New compiles a bootstrap (from Load or Parse) into an Edge, refusing every feature the dev
// edge does not implement with an error that names the field. It binds nothing: call Run.
func New(b *bootstrapv3.Bootstrap, opts Options) (*Edge, error) {
	if err := checkSupported(b.ProtoReflect(), ""); err != nil {
		return nil, err
	}
	for name := range opts.Clusters {
		if _, _, err := net.SplitHostPort(opts.Clusters[name]); err != nil {
			return nil, fmt.Errorf("edge: cluster override %s: %w", name, err)
		}
	}
	e := &Edge{logger: opts.Logger, now: opts.Now}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	switch opts.Admin {
	case "off":
	case "":
		e.admin = socketAddress(b.GetAdmin().GetAddress())
	default:
		e.admin = opts.Admin
	}
	res := b.GetStaticResources()
	e.clusters = make(map[string]*cluster, len(res.GetClusters()))
	for i, c := range res.GetClusters() {
		cl, err := newCluster(c, opts.Clusters[c.GetName()], fmt.Sprintf("static_resources.clusters[%d]", i))
		if err != nil {
			return nil, err
		}
		if _, dup := e.clusters[cl.name]; dup {
			return nil, fmt.Errorf("%w: static_resources.clusters[%d]: duplicate cluster %q", ErrInvalid, i, cl.name)
		}
		e.clusters[cl.name] = cl
	}
	for name := range opts.Clusters {
		if e.clusters[name] == nil {
			return nil, fmt.Errorf("edge: cluster override %s: no such cluster", name)
		}
	}
	if len(res.GetListeners()) != 1 {
		return nil, fmt.Errorf("%w: static_resources.listeners: the dev edge serves exactly one listener, found %d", ErrUnsupported, len(res.GetListeners()))
	}
	l := res.GetListeners()[0]
	e.listen = socketAddress(l.GetAddress())
	if opts.Listen != "" {
		e.listen = opts.Listen
	}
	if e.listen == "" {
		return nil, fmt.Errorf("%w: static_resources.listeners[0].address: a socket_address is required", ErrInvalid)
	}
	const lp = "static_resources.listeners[0].filter_chains"
	if len(l.GetFilterChains()) != 1 || len(l.GetFilterChains()[0].GetFilters()) != 1 {
		return nil, fmt.Errorf("%w: %s: the dev edge needs exactly one filter chain holding one http_connection_manager", ErrUnsupported, lp)
	}
	m, err := unpack(l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig())
	if err != nil {
		return nil, err
	}
	hcm, ok := m.(*hcmv3.HttpConnectionManager)
	if !ok {
		return nil, fmt.Errorf("%w: %s[0].filters[0]: network filter %T", ErrUnsupported, lp, m)
	}
	if err := e.compileHCM(hcm, opts, lp+"[0].filters[0].typed_config"); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *Edge) compileHCM(hcm *hcmv3.HttpConnectionManager, opts Options, path string) error {
	e.useRemoteAddress = hcm.GetUseRemoteAddress().GetValue()
	e.generateRequestID = hcm.GetGenerateRequestId() == nil || hcm.GetGenerateRequestId().GetValue()
	e.normalizePath = hcm.GetNormalizePath().GetValue()
	e.mergeSlashes = hcm.GetMergeSlashes()
	e.rejectEscapedSlashes = hcm.GetPathWithEscapedSlashesAction() == hcmv3.HttpConnectionManager_REJECT_REQUEST
	if len(hcm.GetAccessLog()) > 1 {
		return fmt.Errorf("%w: %s.access_log: at most one access log", ErrUnsupported, path)
	}
	for i, al := range hcm.GetAccessLog() {
		p := fmt.Sprintf("%s.access_log[%d]", path, i)
		m, err := unpack(al.GetTypedConfig())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		so, ok := m.(*streamv3.StdoutAccessLog)
		if !ok {
			return fmt.Errorf("%w: %s: access logger %T", ErrUnsupported, p, m)
		}
		out := opts.AccessLog
		if out == nil {
			out = os.Stdout
		}
		if e.accessLog, err = newAccessLog(so.GetLogFormat().GetJsonFormat(), out, p+".typed_config.log_format.json_format"); err != nil {
			return err
		}
	}
	filterTypes := map[string]proto.Message{}
	filters := hcm.GetHttpFilters()
	for i, hf := range filters {
		p := fmt.Sprintf("%s.http_filters[%d]", path, i)
		if hf.GetTypedConfig() == nil {
			return fmt.Errorf("%w: %s: typed_config is required", ErrUnsupported, p)
		}
		m, err := unpack(hf.GetTypedConfig())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		filterTypes[hf.GetName()] = m
		_, isRouter := m.(*routerv3.Router)
		if isRouter != (i == len(filters)-1) {
			return fmt.Errorf("%w: %s: the router must be the last HTTP filter, and only the last", ErrInvalid, p)
		}
		f, err := e.newFilter(hf.GetName(), m, p)
		if err != nil {
			return err
		}
		if f != nil {
			e.filters = append(e.filters, f)
		}
	}
	if len(filters) == 0 {
		return fmt.Errorf("%w: %s.http_filters: a router is required", ErrInvalid, path)
	}
	if hcm.GetRouteConfig() == nil {
		return fmt.Errorf("%w: %s: only an inline route_config is implemented", ErrUnsupported, path)
	}
	return e.compileRoutes(hcm.GetRouteConfig(), filterTypes, path+".route_config")
}

// newFilter builds the decoder stage of one HTTP filter; the router has none (it is the end).
func (e *Edge) newFilter(name string, m proto.Message, path string) (filter, error) {
	switch cfg := m.(type) {
	case *headermutationv3.HeaderMutation:
		return newHeaderRemoval(cfg), nil
	case *extauthzv3.ExtAuthz:
		c := e.clusters[cfg.GetGrpcService().GetEnvoyGrpc().GetClusterName()]
		if c == nil {
			return nil, fmt.Errorf("%w: %s.typed_config.grpc_service.envoy_grpc.cluster_name: no cluster %q", ErrInvalid, path, cfg.GetGrpcService().GetEnvoyGrpc().GetClusterName())
		}
		if !c.http2 {
			return nil, fmt.Errorf("%w: %s: ext_authz cluster %q must be HTTP/2 (gRPC)", ErrInvalid, path, c.name)
		}
		a, err := newAuthz(name, cfg, c, e.logger)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		e.authz = append(e.authz, a)
		return a, nil
	case *bufferv3.Buffer:
		return &bufferFilter{name: name, max: int64(cfg.GetMaxRequestBytes().GetValue())}, nil
	case *routerv3.Router:
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: %s: HTTP filter %T", ErrUnsupported, path, m)
	}
}

func (e *Edge) compileRoutes(rc *routev3.RouteConfiguration, filterTypes map[string]proto.Message, path string) error {
	for i, vh := range rc.GetVirtualHosts() {
		p := fmt.Sprintf("%s.virtual_hosts[%d]", path, i)
		v := &vhost{name: vh.GetName(), domains: vh.GetDomains()}
		for j, r := range vh.GetRoutes() {
			rt, err := e.compileRoute(r, filterTypes, fmt.Sprintf("%s.routes[%d]", p, j))
			if err != nil {
				return err
			}
			v.routes = append(v.routes, rt)
		}
		e.vhosts = append(e.vhosts, v)
	}
	return nil
}

func (e *Edge) compileRoute(r *routev3.Route, filterTypes map[string]proto.Message, path string) (*route, error) {
	rt := &route{name: r.GetName(), responseHeaders: r.GetResponseHeadersToAdd(), perFilter: map[string]proto.Message{}}
	switch m := r.GetMatch().GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Path:
		rt.path = m.Path
	case *routev3.RouteMatch_Prefix:
		rt.prefix, rt.isPrefix = m.Prefix, true
	default:
		return nil, fmt.Errorf("%w: %s.match: only path and prefix are implemented", ErrUnsupported, path)
	}
	switch {
	case r.GetRoute() != nil:
		c := e.clusters[r.GetRoute().GetCluster()]
		if c == nil {
			return nil, fmt.Errorf("%w: %s.route.cluster: no cluster %q", ErrInvalid, path, r.GetRoute().GetCluster())
		}
		rt.cluster = c
		rt.timeout = 15 * time.Second // Envoy's default route timeout
		if t := r.GetRoute().GetTimeout(); t != nil {
			rt.timeout = t.AsDuration()
		}
	case r.GetDirectResponse() != nil:
		rt.direct = &directResponse{status: int(r.GetDirectResponse().GetStatus()), body: r.GetDirectResponse().GetBody().GetInlineString()}
	default:
		return nil, fmt.Errorf("%w: %s: a route needs route or direct_response", ErrUnsupported, path)
	}
	for name, a := range r.GetTypedPerFilterConfig() {
		p := fmt.Sprintf("%s.typed_per_filter_config[%q]", path, name)
		m, err := unpack(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		ok := false
		switch m.(type) {
		case *extauthzv3.ExtAuthzPerRoute:
			_, ok = filterTypes[name].(*extauthzv3.ExtAuthz)
		case *bufferv3.BufferPerRoute:
			_, ok = filterTypes[name].(*bufferv3.Buffer)
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s: %T does not configure a filter named %q", ErrInvalid, p, m, name)
		}
		rt.perFilter[name] = m
	}
	return rt, nil
}

func socketAddress(a *corev3.Address) string {
	sa := a.GetSocketAddress()
	if sa == nil {
		return ""
	}
	return net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10))
}
