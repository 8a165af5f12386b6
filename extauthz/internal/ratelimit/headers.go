package ratelimit

import (
	"strconv"
	"strings"
	"time"
)

// Headers renders the values of the RateLimit-Policy and RateLimit response
// header fields of draft-ietf-httpapi-ratelimit-headers (revision 11) for the
// result's policies:
//
//	RateLimit-Policy: "burst";q=10;w=2, "day";q=1000;w=86400
//	RateLimit: "burst";r=3;t=2, "day";r=958;t=4000
//
// Both are Structured Field Lists (RFC 9651 §3.1) of Strings with Integer
// parameters: q is the quota (§3.1.1), w the window in seconds (§3.1.3), r
// the available quota (§4.1.1) and t the seconds until the policy is fully
// restored (§4.1.2), fractions rounded up. The quota unit parameter qu is
// omitted: quotas count cost units, which equal requests when every route
// costs 1. Both are empty when the result has no policies (a failed Allow).
func (r Result) Headers() (policy, rateLimit string) {
	var p, l strings.Builder
	for i, s := range r.Policies {
		if i > 0 {
			p.WriteString(", ")
			l.WriteString(", ")
		}
		name := sfString(s.Name)
		p.WriteString(name)
		p.WriteString(";q=")
		p.WriteString(strconv.FormatInt(sfInteger(s.Quota), 10))
		p.WriteString(";w=")
		p.WriteString(strconv.FormatInt(seconds(s.Window), 10))
		l.WriteString(name)
		l.WriteString(";r=")
		l.WriteString(strconv.FormatInt(sfInteger(s.Remaining), 10))
		l.WriteString(";t=")
		l.WriteString(strconv.FormatInt(seconds(s.Reset), 10))
	}
	return p.String(), l.String()
}

// maxSFInteger is the largest Structured Field Integer (RFC 9651 §3.3.1).
const maxSFInteger = 999_999_999_999_999

// sfInteger clamps n to the non-negative Integers the draft allows.
func sfInteger(n int64) int64 {
	return min(max(n, 0), maxSFInteger)
}

// seconds is d in whole seconds, rounded up, as an Integer.
func seconds(d time.Duration) int64 {
	return sfInteger(ceilDiv(int64(max(d, 0)), int64(time.Second)))
}

// sfString serializes s as a Structured Field String (RFC 9651 §4.1.6):
// quoted, with '"' and '\' escaped; characters outside printable ASCII,
// which a String cannot hold, become '?'.
func sfString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
