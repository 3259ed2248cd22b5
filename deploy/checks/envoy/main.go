// Command envoy validates envoy.yaml against Envoy's own v3 API definitions
// (go-control-plane generated protos and their protoc-gen-validate rules) and
// checks the ChittyID deployment policy on top of it.
//
// Usage: envoy [-f envoy.yaml]
//
// Exit 0 and one "OK" line when valid; exit 1 with one line per problem otherwise.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// Extensions that typed_config may name: importing them registers their types so
	// that "@type" URLs resolve. An extension missing here is reported as unresolvable.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_stats/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

const (
	grpcCluster       = "chittyid"
	grpcHealthService = "chittyid.v1.ChittyIdService"
)

type checker struct {
	problems []string
}

func (c *checker) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func main() {
	path := flag.String("f", "envoy.yaml", "Envoy bootstrap file (YAML)")
	flag.Parse()

	c := &checker{}
	bootstrap := c.load(*path)
	if bootstrap != nil {
		c.validate(bootstrap)
		c.references(bootstrap)
		c.policy(bootstrap)
	}
	if len(c.problems) > 0 {
		for _, p := range c.problems {
			fmt.Fprintf(os.Stderr, "envoy: %s: %s\n", *path, p)
		}
		fmt.Fprintf(os.Stderr, "envoy: %s: FAILED (%d problem(s))\n", *path, len(c.problems))
		os.Exit(1)
	}
	fmt.Printf("envoy: %s: OK (v3 Bootstrap, ValidateAll on every message and typed_config, no deprecated fields, policy)\n", *path)
}

// load parses the YAML into an envoy.config.bootstrap.v3.Bootstrap exactly as Envoy
// reads it: unknown fields, wrong enum names and unresolvable "@type"s are errors.
func (c *checker) load(path string) *bootstrapv3.Bootstrap {
	raw, err := os.ReadFile(path)
	if err != nil {
		c.fail("read: %v", err)
		return nil
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		c.fail("YAML: %v", err)
		return nil
	}
	var b bootstrapv3.Bootstrap
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, &b); err != nil {
		c.fail("not a valid v3 Bootstrap: %v", err)
		return nil
	}
	return &b
}

type validatorAll interface{ ValidateAll() error }

// validate runs the protoc-gen-validate rules on the Bootstrap and, since those stop at
// google.protobuf.Any, unpacks every typed_config and validates it too; it also rejects
// fields and enum values that Envoy marks deprecated.
func (c *checker) validate(b *bootstrapv3.Bootstrap) {
	c.validateRoot(b.ProtoReflect(), "")
}

// validateRoot runs ValidateAll on a message that no generated validator reaches (the
// Bootstrap itself, or the contents of an Any), then walks its fields.
func (c *checker) validateRoot(m protoreflect.Message, path string) {
	if v, ok := m.Interface().(validatorAll); ok {
		if err := v.ValidateAll(); err != nil {
			if path == "" {
				c.fail("ValidateAll: %v", err)
			} else {
				c.fail("ValidateAll %s: %v", path, err)
			}
		}
	}
	c.walkFields(m, path)
}

func (c *checker) visitValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			if opts, ok := ev.Options().(*descriptorpb.EnumValueOptions); ok && opts.GetDeprecated() {
				c.fail("%s: enum value %s is deprecated", path, ev.Name())
			}
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		msg := v.Message()
		if msg.Descriptor().FullName() == "google.protobuf.Any" {
			anyMsg, ok := msg.Interface().(*anypb.Any)
			if !ok {
				return
			}
			inner, err := anyMsg.UnmarshalNew()
			if err != nil {
				c.fail("%s: cannot resolve %q: %v", path, anyMsg.GetTypeUrl(), err)
				return
			}
			c.validateRoot(inner.ProtoReflect(), path+"<"+string(inner.ProtoReflect().Descriptor().FullName())+">")
			return
		}
		// Nested messages were validated by their parent's ValidateAll.
		c.walkFields(msg, path)
	}
}

func (c *checker) walkFields(m protoreflect.Message, path string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := joinPath(path, string(fd.Name()))
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			c.fail("%s: field is deprecated in %s", name, m.Descriptor().FullName())
		}
		switch {
		case fd.IsList():
			list := v.List()
			for i := 0; i < list.Len(); i++ {
				c.visitValue(fd, list.Get(i), fmt.Sprintf("%s[%d]", name, i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				c.visitValue(fd.MapValue(), mv, fmt.Sprintf("%s[%s]", name, k.String()))
				return true
			})
		default:
			c.visitValue(fd, v, name)
		}
		return true
	})
}

func joinPath(base, name string) string {
	if base == "" {
		return name
	}
	return base + "." + name
}

// httpManagers returns every HttpConnectionManager with the listener it belongs to.
func httpManagers(b *bootstrapv3.Bootstrap) map[string][]*hcmv3.HttpConnectionManager {
	out := map[string][]*hcmv3.HttpConnectionManager{}
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if f.GetTypedConfig() == nil {
					continue
				}
				msg, err := f.GetTypedConfig().UnmarshalNew()
				if err != nil {
					continue
				}
				if h, ok := msg.(*hcmv3.HttpConnectionManager); ok {
					out[l.GetName()] = append(out[l.GetName()], h)
				}
			}
		}
	}
	return out
}

// references checks what Envoy checks when it builds the config: unique names and
// routes that name existing clusters.
func (c *checker) references(b *bootstrapv3.Bootstrap) {
	clusters := map[string]bool{}
	for _, cl := range b.GetStaticResources().GetClusters() {
		if clusters[cl.GetName()] {
			c.fail("cluster %q is defined twice", cl.GetName())
		}
		clusters[cl.GetName()] = true
		if cl.GetType() == clusterv3.Cluster_STRICT_DNS || cl.GetType() == clusterv3.Cluster_STATIC {
			if len(cl.GetLoadAssignment().GetEndpoints()) == 0 {
				c.fail("cluster %q: %s cluster has no load_assignment endpoints", cl.GetName(), cl.GetType())
			}
		}
	}
	listeners := map[string]bool{}
	for _, l := range b.GetStaticResources().GetListeners() {
		if listeners[l.GetName()] {
			c.fail("listener %q is defined twice", l.GetName())
		}
		listeners[l.GetName()] = true
	}
	for lname, hs := range httpManagers(b) {
		for _, h := range hs {
			if h.GetRouteConfig() == nil {
				c.fail("listener %q: http_connection_manager has no static route_config", lname)
				continue
			}
			if len(h.GetHttpFilters()) == 0 || h.GetHttpFilters()[len(h.GetHttpFilters())-1].GetName() != "envoy.filters.http.router" {
				c.fail("listener %q: the last http_filter must be envoy.filters.http.router", lname)
			}
			for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
				for _, r := range vh.GetRoutes() {
					if name := r.GetRoute().GetCluster(); name != "" && !clusters[name] {
						c.fail("listener %q: route %s points to unknown cluster %q", lname, describeMatch(r.GetMatch()), name)
					}
				}
			}
		}
	}
}

func describeMatch(m *routev3.RouteMatch) string {
	switch {
	case m.GetPath() != "":
		return "path " + m.GetPath()
	case m.GetPrefix() != "":
		return "prefix " + m.GetPrefix()
	default:
		return "(match)"
	}
}

// policy holds the ChittyID deployment rules (issue 5, item 4).
func (c *checker) policy(b *bootstrapv3.Bootstrap) {
	// Admin interface on loopback only.
	if sa := b.GetAdmin().GetAddress().GetSocketAddress(); sa == nil {
		c.fail("admin: no socket address (the admin interface must listen on 127.0.0.1)")
	} else if ip, err := netip.ParseAddr(sa.GetAddress()); err != nil || !ip.IsLoopback() {
		c.fail("admin: address %q is not loopback; the admin interface must listen on 127.0.0.1 only", sa.GetAddress())
	}

	// The gRPC cluster.
	var grpc *clusterv3.Cluster
	for _, cl := range b.GetStaticResources().GetClusters() {
		if cl.GetName() == grpcCluster {
			grpc = cl
		}
	}
	if grpc == nil {
		c.fail("cluster %q (the gRPC replicas) is missing", grpcCluster)
	} else {
		c.grpcClusterPolicy(grpc)
	}

	// A listener for gRPC on 50051 that routes to the cluster with retries on unavailable,
	// and an HTTP route for /health.
	managers := httpManagers(b)
	var grpcListener, retries, health bool
	for _, l := range b.GetStaticResources().GetListeners() {
		port := l.GetAddress().GetSocketAddress().GetPortValue()
		for _, h := range managers[l.GetName()] {
			if port == 50051 {
				codec := h.GetCodecType()
				if codec != hcmv3.HttpConnectionManager_AUTO && codec != hcmv3.HttpConnectionManager_HTTP2 {
					c.fail("listener %q: codec_type %s cannot carry gRPC; use AUTO or HTTP2", l.GetName(), codec)
				} else {
					grpcListener = true
				}
			}
			for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
				for _, r := range vh.GetRoutes() {
					ra := r.GetRoute()
					if ra.GetCluster() == grpcCluster && r.GetMatch().GetGrpc() != nil {
						if rp := ra.GetRetryPolicy(); rp != nil && slices.Contains(splitRetryOn(rp.GetRetryOn()), "unavailable") && rp.GetNumRetries().GetValue() > 0 {
							retries = true
						}
					}
					if r.GetMatch().GetPath() == "/health" || r.GetMatch().GetPrefix() == "/health" {
						health = true
					}
				}
			}
		}
	}
	if !grpcListener {
		c.fail("no http_connection_manager listener on port 50051 for gRPC")
	}
	if !retries {
		c.fail("no gRPC route to cluster %q with retry_policy retry_on containing \"unavailable\" and num_retries > 0", grpcCluster)
	}
	if !health {
		c.fail("no route for the HTTP /health path")
	}
}

func splitRetryOn(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func (c *checker) grpcClusterPolicy(cl *clusterv3.Cluster) {
	name := cl.GetName()
	if cl.GetLbPolicy() != clusterv3.Cluster_LEAST_REQUEST {
		c.fail("cluster %q: lb_policy is %s, want LEAST_REQUEST", name, cl.GetLbPolicy())
	}
	if cl.GetConnectTimeout() == nil {
		c.fail("cluster %q: connect_timeout is not set", name)
	}
	endpoints := 0
	for _, le := range cl.GetLoadAssignment().GetEndpoints() {
		endpoints += len(le.GetLbEndpoints())
	}
	if endpoints < 2 {
		c.fail("cluster %q: %d endpoint(s), want at least 2 replicas", name, endpoints)
	}

	// Upstream HTTP/2: gRPC needs it, and so does the gRPC health check.
	http2 := false
	if anyOpts, ok := cl.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]; ok {
		var opts upstreamhttpv3.HttpProtocolOptions
		if err := anyOpts.UnmarshalTo(&opts); err != nil {
			c.fail("cluster %q: typed_extension_protocol_options: %v", name, err)
		} else if opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil {
			http2 = true
		}
	}
	if !http2 {
		c.fail("cluster %q: upstream is not HTTP/2 (typed_extension_protocol_options HttpProtocolOptions explicit_http_config.http2_protocol_options)", name)
	}

	grpcHC := false
	for _, hc := range cl.GetHealthChecks() {
		if g := hc.GetGrpcHealthCheck(); g != nil {
			grpcHC = true
			if g.GetServiceName() != grpcHealthService {
				c.fail("cluster %q: grpc_health_check service_name %q, want %q", name, g.GetServiceName(), grpcHealthService)
			}
		}
	}
	if !grpcHC {
		c.fail("cluster %q: no active health check with grpc_health_check", name)
	}

	od := cl.GetOutlierDetection()
	switch {
	case od == nil:
		c.fail("cluster %q: outlier_detection is missing (a failing replica would not be ejected)", name)
	default:
		if od.GetConsecutive_5Xx() == nil && od.GetConsecutiveGatewayFailure() == nil {
			c.fail("cluster %q: outlier_detection sets neither consecutive_5xx nor consecutive_gateway_failure", name)
		}
		if od.GetBaseEjectionTime() == nil {
			c.fail("cluster %q: outlier_detection.base_ejection_time is not set", name)
		}
		if od.GetMaxEjectionPercent() == nil {
			c.fail("cluster %q: outlier_detection.max_ejection_percent is not set", name)
		}
	}

	budget := false
	for _, t := range cl.GetCircuitBreakers().GetThresholds() {
		if t.GetRetryBudget() != nil && (t.GetPriority() == corev3.RoutingPriority_DEFAULT) {
			budget = true
		}
	}
	if !budget {
		c.fail("cluster %q: circuit_breakers has no DEFAULT threshold with a retry_budget", name)
	}
}
