package edge

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// rule checks the value of a supported field; nil accepts any value.
type rule func(fd protoreflect.FieldDescriptor, v protoreflect.Value) error

// enumIn accepts only the named values of an enum field.
func enumIn(names ...protoreflect.Name) rule {
	return func(fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev == nil || !slices.Contains(names, ev.Name()) {
			return fmt.Errorf("value %v is not implemented (supported: %v)", v.Enum(), names)
		}
		return nil
	}
}

// supported lists, per message, the fields the dev edge implements. A set field of a listed
// message that is not listed here, and any message not listed at all, is refused. Leaf
// well-known types (Duration, wrappers, Struct) are accepted wherever the schema allows them.
var supported = map[protoreflect.FullName]map[protoreflect.Name]rule{
	"envoy.config.bootstrap.v3.Bootstrap":                       {"admin": nil, "static_resources": nil},
	"envoy.config.bootstrap.v3.Admin":                           {"address": nil},
	"envoy.config.bootstrap.v3.Bootstrap.StaticResources":       {"listeners": nil, "clusters": nil},
	"envoy.config.core.v3.Address":                              {"socket_address": nil},
	"envoy.config.core.v3.SocketAddress":                        {"address": nil, "port_value": nil, "protocol": enumIn("TCP")},
	"envoy.config.listener.v3.Listener":                         {"name": nil, "address": nil, "filter_chains": nil},
	"envoy.config.listener.v3.FilterChain":                      {"name": nil, "filters": nil},
	"envoy.config.listener.v3.Filter":                           {"name": nil, "typed_config": nil},
	"envoy.config.accesslog.v3.AccessLog":                       {"name": nil, "typed_config": nil},
	"envoy.extensions.access_loggers.stream.v3.StdoutAccessLog": {"log_format": nil},
	"envoy.config.core.v3.SubstitutionFormatString":             {"json_format": nil},
	"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager": {
		"stat_prefix": nil, "codec_type": enumIn("AUTO"), "use_remote_address": nil,
		"generate_request_id": nil, "normalize_path": nil, "merge_slashes": nil,
		"path_with_escaped_slashes_action": enumIn("KEEP_UNCHANGED", "REJECT_REQUEST"),
		"access_log":                       nil, "http_filters": nil, "route_config": nil,
	},
	"envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter": {"name": nil, "typed_config": nil},
	"envoy.extensions.filters.http.header_mutation.v3.HeaderMutation":        {"mutations": nil},
	"envoy.extensions.filters.http.header_mutation.v3.Mutations":             {"request_mutations": nil},
	"envoy.config.common.mutation_rules.v3.HeaderMutation":                   {"remove": nil},
	"envoy.extensions.filters.http.ext_authz.v3.ExtAuthz": {
		"transport_api_version": enumIn("V3"), "grpc_service": nil, "failure_mode_allow": nil,
		"status_on_error": nil, "include_peer_certificate": nil, "stat_prefix": nil,
	},
	"envoy.config.core.v3.GrpcService":                            {"envoy_grpc": nil, "timeout": nil},
	"envoy.config.core.v3.GrpcService.EnvoyGrpc":                  {"cluster_name": nil},
	"envoy.type.v3.HttpStatus":                                    {"code": nil},
	"envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute": {"disabled": nil, "check_settings": nil},
	"envoy.extensions.filters.http.ext_authz.v3.CheckSettings":    {"context_extensions": nil},
	"envoy.extensions.filters.http.buffer.v3.Buffer":              {"max_request_bytes": nil},
	"envoy.extensions.filters.http.buffer.v3.BufferPerRoute":      {"disabled": nil, "buffer": nil},
	"envoy.extensions.filters.http.router.v3.Router":              {},
	"envoy.config.route.v3.RouteConfiguration":                    {"name": nil, "virtual_hosts": nil},
	"envoy.config.route.v3.VirtualHost":                           {"name": nil, "domains": nil, "routes": nil},
	"envoy.config.route.v3.Route": {
		"name": nil, "match": nil, "route": nil, "direct_response": nil,
		"typed_per_filter_config": nil, "response_headers_to_add": nil,
	},
	"envoy.config.route.v3.RouteMatch":           {"prefix": nil, "path": nil},
	"envoy.config.route.v3.RouteAction":          {"cluster": nil, "timeout": nil},
	"envoy.config.route.v3.DirectResponseAction": {"status": nil, "body": nil},
	"envoy.config.core.v3.DataSource":            {"inline_string": nil},
	"envoy.config.core.v3.HeaderValueOption":     {"header": nil, "append_action": nil},
	"envoy.config.core.v3.HeaderValue":           {"key": nil, "value": nil},
	"envoy.config.cluster.v3.Cluster": {
		"name": nil, "type": enumIn("STATIC"), "connect_timeout": nil, "lb_policy": enumIn("ROUND_ROBIN"),
		"load_assignment": nil, "typed_extension_protocol_options": nil, "health_checks": nil,
	},
	"envoy.config.endpoint.v3.ClusterLoadAssignment":                            {"cluster_name": nil, "endpoints": nil},
	"envoy.config.endpoint.v3.LocalityLbEndpoints":                              {"lb_endpoints": nil},
	"envoy.config.endpoint.v3.LbEndpoint":                                       {"endpoint": nil},
	"envoy.config.endpoint.v3.Endpoint":                                         {"address": nil},
	"envoy.extensions.upstreams.http.v3.HttpProtocolOptions":                    {"explicit_http_config": nil},
	"envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig": {"http_protocol_options": nil, "http2_protocol_options": nil},
	"envoy.config.core.v3.Http1ProtocolOptions":                                 {},
	"envoy.config.core.v3.Http2ProtocolOptions":                                 {},
	"envoy.config.core.v3.HealthCheck": {
		"timeout": nil, "interval": nil, "unhealthy_threshold": nil, "healthy_threshold": nil,
		"http_health_check": nil, "grpc_health_check": nil,
	},
	"envoy.config.core.v3.HealthCheck.HttpHealthCheck": {"path": nil},
	"envoy.config.core.v3.HealthCheck.GrpcHealthCheck": {"service_name": nil},
}

// leaves are well-known types read as values.
var leaves = map[protoreflect.FullName]bool{
	"google.protobuf.Duration": true, "google.protobuf.BoolValue": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.Struct": true, "google.protobuf.Value": true, "google.protobuf.ListValue": true,
}

// checkSupported walks m and refuses every set field the dev edge does not implement, naming
// its path (e.g. static_resources.clusters[0].circuit_breakers). Each typed_config is unpacked,
// validated with its own rules (ValidateAll) and walked in turn.
func checkSupported(m protoreflect.Message, path string) error {
	name := m.Descriptor().FullName()
	if leaves[name] {
		return nil
	}
	if name == "google.protobuf.Any" {
		return checkAny(m.Interface().(*anypb.Any), path)
	}
	fields, ok := supported[name]
	if !ok {
		return fmt.Errorf("%w: %s: message %s", ErrUnsupported, orRoot(path), name)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := join(path, string(fd.Name()))
		r, ok := fields[fd.Name()]
		if !ok {
			err = fmt.Errorf("%w: %s: field not implemented", ErrUnsupported, p)
			return false
		}
		if r != nil {
			if rerr := r(fd, v); rerr != nil {
				err = fmt.Errorf("%w: %s: %w", ErrUnsupported, p, rerr)
				return false
			}
		}
		err = checkValue(fd, v, p)
		return err == nil
	})
	return err
}

func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, p string) error {
	switch {
	case fd.IsList() && fd.Message() != nil:
		l := v.List()
		for i := range l.Len() {
			if err := checkSupported(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i)); err != nil {
				return err
			}
		}
	case fd.IsMap() && fd.MapValue().Message() != nil:
		var err error
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			err = checkSupported(mv.Message(), fmt.Sprintf("%s[%q]", p, k.String()))
			return err == nil
		})
		return err
	case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
		return checkSupported(v.Message(), p)
	}
	return nil
}

// checkAny unpacks a typed_config, runs its validation rules, and walks it.
func checkAny(a *anypb.Any, path string) error {
	m, err := unpack(a)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
		}
	}
	return checkSupported(m.ProtoReflect(), path)
}

// unpack resolves a typed_config among the implemented extensions.
func unpack(a *anypb.Any) (proto.Message, error) {
	types, err := typedConfigs()
	if err != nil {
		return nil, err
	}
	m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{Resolver: types})
	if err != nil {
		return nil, fmt.Errorf("%w: typed_config %s: %w", ErrUnsupported, a.GetTypeUrl(), err)
	}
	return m, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orRoot(path string) string {
	if path == "" {
		return "(bootstrap)"
	}
	return path
}
