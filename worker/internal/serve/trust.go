package serve

import (
	"crypto/tls"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Identity headers set by extauthz through Envoy (gRPC metadata keys are the same).
const (
	headerPrefix   = "x-torchgate-"
	headerClientID = "x-torchgate-client-id"
	headerPriority = "x-torchgate-priority"
)

// peerInfo is what the transport tells about the sender of a request.
type peerInfo struct {
	// addr is the remote address, "host:port" or a bare IP.
	addr string
	// tls is the connection's TLS state, nil without TLS.
	tls *tls.ConnectionState
}

// trusted reports whether a peer's address lies in a trusted network, or whether it
// presented a client certificate, verified by the TLS listener, that names a trusted
// client. An address that does not parse (a Unix socket) is not trusted.
func (s *Server) trusted(p peerInfo) bool {
	if p.tls != nil && len(p.tls.VerifiedChains) > 0 && len(s.opts.TrustedClientNames) > 0 {
		leaf := p.tls.VerifiedChains[0][0]
		names := append([]string{leaf.Subject.CommonName}, leaf.DNSNames...)
		for _, u := range leaf.URIs {
			names = append(names, u.String())
		}
		for _, n := range names {
			if n != "" && slices.Contains(s.opts.TrustedClientNames, n) {
				return true
			}
		}
	}
	host, _, err := net.SplitHostPort(p.addr)
	if err != nil {
		host = p.addr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, prefix := range s.opts.TrustedPeers {
		if prefix.Contains(ip) {
			return true
		}
	}
	return false
}

// identify returns the identity a request claims: the headers' when the peer is trusted;
// otherwise anonymous, or ErrForbidden when the request carries x-torchgate-* headers
// and Options.RejectUntrusted is set. keys are the request's header names; get returns a
// header's first value.
func (s *Server) identify(peer peerInfo, keys []string, get func(string) string) (identity, error) {
	if !s.trusted(peer) {
		if s.opts.RejectUntrusted {
			for _, k := range keys {
				if strings.HasPrefix(strings.ToLower(k), headerPrefix) {
					return identity{}, ErrForbidden.withDetail("x-torchgate-* headers are accepted only from trusted peers")
				}
			}
		}
		return anonymous, nil
	}
	id := anonymous
	if c := get(headerClientID); c != "" {
		id.client = cleanLabel(c)
	}
	if p := get(headerPriority); p != "" {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return identity{}, ErrInvalid.withDetail("x-torchgate-priority must be an integer")
		}
		id.priority = n
	}
	return id, nil
}

// maxClientIDLen bounds a client id used as a label value.
const maxClientIDLen = 128

// cleanLabel makes a client id safe as a Prometheus label value: valid UTF-8 (Prometheus
// refuses anything else) and at most maxClientIDLen bytes.
func cleanLabel(s string) string {
	if len(s) > maxClientIDLen {
		s = s[:maxClientIDLen]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
