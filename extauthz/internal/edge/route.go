package edge

import (
	"errors"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
)

// errBadPath reports a request path the connection manager refuses (400).
var errBadPath = errors.New("edge: bad request path")

type vhost struct {
	name    string
	domains []string
	routes  []*route
}

type route struct {
	name            string
	path            string // exact path (query ignored)
	prefix          string
	isPrefix        bool
	cluster         *cluster      // nil for a direct response
	timeout         time.Duration // 0: none
	direct          *directResponse
	responseHeaders []*corev3.HeaderValueOption
	perFilter       map[string]proto.Message // typed_per_filter_config by filter name
}

type directResponse struct {
	status int
	body   string
}

// selectVhost picks the virtual host for a Host header as Envoy does: an exact domain first,
// then the longest "*.suffix", then the longest "prefix.*", then "*". Matching ignores case.
func selectVhost(vhosts []*vhost, host string) *vhost {
	host = strings.ToLower(host)
	var best *vhost
	bestRank, bestLen := 0, -1
	for _, v := range vhosts {
		for _, d := range v.domains {
			d = strings.ToLower(d)
			rank := 0
			switch {
			case d == host:
				return v
			case d == "*":
				rank = 1
			case strings.HasPrefix(d, "*") && strings.HasSuffix(host, d[1:]) && len(host) > len(d)-1:
				rank = 3
			case strings.HasSuffix(d, "*") && strings.HasPrefix(host, d[:len(d)-1]) && len(host) > len(d)-1:
				rank = 2
			default:
				continue
			}
			if rank > bestRank || rank == bestRank && len(d) > bestLen {
				best, bestRank, bestLen = v, rank, len(d)
			}
		}
	}
	return best
}

// match returns the first route of v matching the request path (path plus query, as in
// Envoy's :path header), or nil.
func (v *vhost) match(pathAndQuery string) *route {
	p := pathAndQuery
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	for _, r := range v.routes {
		if r.isPrefix && strings.HasPrefix(pathAndQuery, r.prefix) || !r.isPrefix && p == r.path {
			return r
		}
	}
	return nil
}

// canonicalPath applies the connection manager's path handling to the path part of :path:
// encoded slashes refused (rejectEscaped), RFC 3986 §6 normalisation (percent-encodings of
// unreserved characters decoded, other encodings upper-cased, dot segments removed), and
// repeated slashes merged. The result always starts with "/".
func canonicalPath(p string, rejectEscaped, normalize, merge bool) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", errBadPath
	}
	if rejectEscaped {
		lp := strings.ToLower(p)
		if strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") {
			return "", errBadPath
		}
	}
	if normalize {
		var err error
		if p, err = normalizePercent(p); err != nil {
			return "", err
		}
		p = removeDotSegments(p)
	}
	if merge {
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
	}
	return p, nil
}

const upperHex = "0123456789ABCDEF"

func normalizePercent(p string) (string, error) {
	if !strings.Contains(p, "%") {
		return p, nil
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
			return "", errBadPath
		}
		v := byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
		if unreserved(v) {
			b.WriteByte(v)
		} else {
			b.Write([]byte{'%', upperHex[v>>4], upperHex[v&15]})
		}
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// unreserved reports RFC 3986 §2.3 unreserved characters.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments implements RFC 3986 §5.2.4 for an absolute path.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}
