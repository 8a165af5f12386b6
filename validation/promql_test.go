package validation

import (
	"slices"
	"strings"
	"testing"
)

// metricNames returns the metric names a PromQL expression selects, sorted and deduplicated. It
// is a tokenizer, not a parser: it skips strings, label matchers {...}, ranges [...], numbers and
// durations, Grafana variables ($x), function and aggregation names (an identifier followed by
// "("), the label lists of by/without/on/ignoring/group_left/group_right, and the binary
// keywords; every identifier left is a metric name. Grafana's label_values(expr, label) is read
// as expr. Selecting by {__name__="..."} is not supported (we never write it).
func metricNames(expr string) []string {
	expr = strings.TrimSpace(expr)
	if inner, ok := strings.CutPrefix(expr, "label_values("); ok && strings.HasSuffix(inner, ")") {
		inner = strings.TrimSuffix(inner, ")")
		if i := strings.LastIndexByte(inner, ','); i >= 0 {
			expr = inner[:i]
		} else {
			expr = "" // label_values(label): no metric
		}
	}
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{':
			i = skipTo(expr, i, '}')
		case c == '[':
			i = skipTo(expr, i, ']')
		case c == '$' || isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			i++
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
			word := expr[start:i]
			next := i
			for next < len(expr) && (expr[next] == ' ' || expr[next] == '\t' || expr[next] == '\n') {
				next++
			}
			followedByParen := next < len(expr) && expr[next] == '('
			switch {
			case groupingKeywords[strings.ToLower(word)]:
				if followedByParen {
					i = skipTo(expr, next, ')')
				}
			case followedByParen, binaryKeywords[strings.ToLower(word)], aggregations[strings.ToLower(word)]:
				// a function or aggregation (which may take by/without before its parenthesis),
				// or and/or/unless/bool/offset
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

var aggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

var binaryKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true,
}

// skipString returns the index after the string literal that starts at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quote != '`':
			i++
		case s[i] == quote:
			return i + 1
		}
	}
	return len(s)
}

// skipTo returns the index after the first close at or after i that is outside a string.
func skipTo(s string, i int, close byte) int {
	for i++; i < len(s); {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
		case close:
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || isDigit(c) }

var metricNameTests = []struct {
	name string
	expr string
	want []string
}{
	{name: "bare metric", expr: "torchgate_ratelimit_degraded", want: []string{"torchgate_ratelimit_degraded"}},
	{name: "rate with matchers and Grafana interval",
		expr: `sum by (decision, reason) (rate(torchgate_authz_decisions_total{decision="deny",reason=~"a|b"}[$__rate_interval]))`,
		want: []string{"torchgate_authz_decisions_total"}},
	{name: "histogram quantile keeps the bucket suffix",
		expr: `histogram_quantile(0.99, sum by (le, model) (rate(x_seconds_bucket{model=~"$model"}[5m])))`,
		want: []string{"x_seconds_bucket"}},
	{name: "binary operation, offset and keywords",
		expr: "sum(rate(a_total[5m])) > 4 * sum(rate(a_total[6h] offset 5m)) and on (job) b > bool 1",
		want: []string{"a_total", "b"}},
	{name: "aggregation modifier after the call", expr: "sum(rate(c_total[1m])) without (instance)", want: []string{"c_total"}},
	{name: "ratio of two gauges with scientific number",
		expr: `DCGM_FI_DEV_FB_USED{gpu=~"$gpu"} / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 1e6`,
		want: []string{"DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED"}},
	{name: "aggregation with by before the parenthesis", expr: "max by (gpu) (t)", want: []string{"t"}},
	{name: "topk and max by", expr: "topk(20, max by (client_id, window) (q_ratio))", want: []string{"q_ratio"}},
	{name: "string with a brace and quote", expr: `m{l="}\"x"} + n`, want: []string{"m", "n"}},
	{name: "label_values with a selector", expr: `label_values(DCGM_FI_DEV_GPU_TEMP{instance=~"$instance"}, gpu)`,
		want: []string{"DCGM_FI_DEV_GPU_TEMP"}},
	{name: "label_values of a label only", expr: "label_values(job)", want: nil},
	{name: "recording rule name with colons", expr: "job:requests:rate5m > 0.5", want: []string{"job:requests:rate5m"}},
}

func TestMetricNames(t *testing.T) {
	for _, tc := range metricNameTests {
		t.Run(tc.name, func(t *testing.T) {
			if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
				t.Fatalf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

// FuzzMetricNames checks the tokenizer terminates on any input and returns only identifiers.
func FuzzMetricNames(f *testing.F) {
	for _, tc := range metricNameTests {
		f.Add(tc.expr)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, n := range metricNames(expr) {
			if n == "" || !isIdentStart(n[0]) || strings.IndexFunc(n, func(r rune) bool { return r > 0x7f || !isIdent(byte(r)) }) >= 0 {
				t.Fatalf("metricNames(%q) returned %q, not an identifier", expr, n)
			}
		}
	})
}
