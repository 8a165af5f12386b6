package edge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
)

// accessLog writes one JSON line per request, formatted by an Envoy json_format.
type accessLog struct {
	mu     sync.Mutex // serializes writes to out
	out    io.Writer
	fields map[string]logValue
}

// logValue renders one json_format value for an exchange.
type logValue func(x *exchange, end time.Time) any

// operator renders one command operator; ok is false when the value is not available.
type operator func(x *exchange, end time.Time) (v any, ok bool)

func newAccessLog(format *structpb.Struct, out io.Writer, path string) (*accessLog, error) {
	if format == nil {
		return nil, fmt.Errorf("%w: %s: only json_format is implemented", ErrUnsupported, path)
	}
	fields, err := compileStruct(format, path)
	if err != nil {
		return nil, err
	}
	return &accessLog{out: out, fields: fields}, nil
}

func compileStruct(s *structpb.Struct, path string) (map[string]logValue, error) {
	fields := make(map[string]logValue, len(s.GetFields()))
	for k, v := range s.GetFields() {
		lv, err := compileValue(v, path+"."+k)
		if err != nil {
			return nil, err
		}
		fields[k] = lv
	}
	return fields, nil
}

func compileValue(v *structpb.Value, path string) (logValue, error) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return compileTemplate(k.StringValue, path)
	case *structpb.Value_StructValue:
		nested, err := compileStruct(k.StructValue, path)
		if err != nil {
			return nil, err
		}
		return func(x *exchange, end time.Time) any { return render(nested, x, end) }, nil
	case *structpb.Value_NumberValue, *structpb.Value_BoolValue, *structpb.Value_NullValue:
		lit := v.AsInterface()
		return func(*exchange, time.Time) any { return lit }, nil
	default:
		return nil, fmt.Errorf("%w: %s: lists are not allowed in json_format", ErrInvalid, path)
	}
}

// commandRE matches one command operator: %NAME%, %NAME(ARGS)% or %NAME(ARGS):MAXLEN%.
var commandRE = regexp.MustCompile(`%([A-Z_]+)(?:\(([^)]*)\))?(?::([0-9]+))?%`)

// compileTemplate compiles a format string. A string that is exactly one operator keeps the
// operator's type (numbers stay numbers) and is null when unavailable; inside a longer string an
// unavailable value prints as "-".
func compileTemplate(s, path string) (logValue, error) {
	locs := commandRE.FindAllStringSubmatchIndex(s, -1)
	var ops []operator
	var lits []string
	last := 0
	for _, l := range locs {
		name, args := s[l[2]:l[3]], ""
		if l[4] >= 0 {
			args = s[l[4]:l[5]]
		}
		op, err := command(name, args, l[4] >= 0)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnsupported, path, err)
		}
		if l[6] >= 0 {
			n, _ := strconv.Atoi(s[l[6]:l[7]])
			op = truncated(op, n)
		}
		lits = append(lits, s[last:l[0]])
		ops = append(ops, op)
		last = l[1]
	}
	tail := s[last:]
	if strings.Contains(strings.Join(append(lits, tail), ""), "%") {
		return nil, fmt.Errorf("%w: %s: unknown or malformed command operator in %q", ErrUnsupported, path, s)
	}
	if len(ops) == 1 && lits[0] == "" && tail == "" {
		op := ops[0]
		return func(x *exchange, end time.Time) any {
			if v, ok := op(x, end); ok {
				return v
			}
			return nil
		}, nil
	}
	return func(x *exchange, end time.Time) any {
		var b strings.Builder
		for i, op := range ops {
			b.WriteString(lits[i])
			if v, ok := op(x, end); ok {
				fmt.Fprint(&b, v)
			} else {
				b.WriteByte('-')
			}
		}
		b.WriteString(tail)
		return b.String()
	}, nil
}

func truncated(op operator, n int) operator {
	return func(x *exchange, end time.Time) (any, bool) {
		v, ok := op(x, end)
		if s, isStr := v.(string); isStr && len(s) > n {
			v = s[:n]
		}
		return v, ok
	}
}

// command returns the implemented operator name(args).
func command(name, args string, hasArgs bool) (operator, error) {
	if hasArgs != (name == "REQ" || name == "RESP" || name == "DYNAMIC_METADATA") {
		return nil, fmt.Errorf("command operator %%%s%%: arguments not implemented", name)
	}
	switch name {
	case "REQ":
		return headerOperator(args, func(x *exchange, h string) string { return requestHeader(x, h) }), nil
	case "RESP":
		return headerOperator(args, func(x *exchange, h string) string { return x.w.Header().Get(h) }), nil
	case "DYNAMIC_METADATA":
		return metadataOperator(args)
	}
	op, ok := simpleOperators[name]
	if !ok {
		return nil, fmt.Errorf("command operator %%%s%% not implemented", name)
	}
	return op, nil
}

var simpleOperators = map[string]operator{
	"START_TIME": func(x *exchange, _ time.Time) (any, bool) {
		return x.start.UTC().Format("2006-01-02T15:04:05.000Z"), true
	},
	"PROTOCOL":      func(x *exchange, _ time.Time) (any, bool) { return x.r.Proto, true },
	"RESPONSE_CODE": func(x *exchange, _ time.Time) (any, bool) { return x.w.status, true },
	"RESPONSE_FLAGS": func(x *exchange, _ time.Time) (any, bool) {
		return x.flags, x.flags != ""
	},
	"BYTES_RECEIVED": func(x *exchange, _ time.Time) (any, bool) { return x.bytesIn.n.Load(), true },
	"BYTES_SENT":     func(x *exchange, _ time.Time) (any, bool) { return x.w.bytes, true },
	"DURATION": func(x *exchange, end time.Time) (any, bool) {
		return end.Sub(x.start).Milliseconds(), true
	},
	"ROUTE_NAME": func(x *exchange, _ time.Time) (any, bool) {
		return x.route.getName(), x.route.getName() != ""
	},
	"UPSTREAM_CLUSTER": func(x *exchange, _ time.Time) (any, bool) { return x.cluster, x.cluster != "" },
	"UPSTREAM_HOST":    func(x *exchange, _ time.Time) (any, bool) { return x.host, x.host != "" },
	"DOWNSTREAM_REMOTE_ADDRESS": func(x *exchange, _ time.Time) (any, bool) {
		return x.r.RemoteAddr, x.r.RemoteAddr != ""
	},
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": func(x *exchange, _ time.Time) (any, bool) {
		host, _, err := net.SplitHostPort(x.r.RemoteAddr)
		return host, err == nil
	},
}

// headerOperator reads the first of "A?B" that is present.
func headerOperator(args string, get func(x *exchange, h string) string) operator {
	names := strings.Split(args, "?")
	return func(x *exchange, _ time.Time) (any, bool) {
		for _, n := range names {
			if v := get(x, n); v != "" {
				return v, true
			}
		}
		return nil, false
	}
}

func requestHeader(x *exchange, h string) string {
	switch strings.ToLower(h) {
	case ":method":
		return x.r.Method
	case ":path":
		return x.path
	case ":authority", "host":
		return x.r.Host
	case ":scheme":
		return "http"
	}
	return x.r.Header.Get(h)
}

// metadataOperator reads NAMESPACE:KEY[:KEY...] from the dynamic metadata.
func metadataOperator(args string) (operator, error) {
	parts := strings.Split(args, ":")
	if len(parts) < 2 || parts[0] == "" {
		return nil, fmt.Errorf("DYNAMIC_METADATA(%s): want NAMESPACE:KEY", args)
	}
	ns, keys := parts[0], parts[1:]
	return func(x *exchange, _ time.Time) (any, bool) {
		s := x.metadata[ns]
		var v *structpb.Value
		for _, k := range keys {
			if s == nil {
				return nil, false
			}
			v = s.GetFields()[k]
			s = v.GetStructValue()
		}
		if v == nil {
			return nil, false
		}
		return v.AsInterface(), true
	}, nil
}

func (r *route) getName() string {
	if r == nil {
		return ""
	}
	return r.name
}

func render(fields map[string]logValue, x *exchange, end time.Time) map[string]any {
	out := make(map[string]any, len(fields))
	for k, f := range fields {
		out[k] = f(x, end)
	}
	return out
}

func (l *accessLog) write(x *exchange, end time.Time) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(render(l.fields, x, end)); err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.out.Write(buf.Bytes())
}
