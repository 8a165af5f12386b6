package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"reflect"
	"testing"
	"time"
)

// TestLineMatchesSlogJSON: the direct encoder produces what log/slog's JSONHandler would, as
// JSON values, for every kind audit lines use and for hostile strings.
func TestLineMatchesSlogJSON(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	attrs := []slog.Attr{
		slog.String("request_id", "r-1"),
		slog.String("path", "/v2/models/\"x\"\\y\n\t\x01"),
		slog.String("bad_utf8", "a\xffb"),
		slog.String("line_sep", "a\u2028b\u2029c"),
		slog.String("unicode", "héllo ✓"),
		slog.Int("status", 429),
		slog.Int64("latency_us", -7),
		slog.Uint64("big", math.MaxUint64),
		slog.Bool("ok", true),
		slog.Float64("ratio", 0.25),
		slog.Duration("took", 1500*time.Millisecond),
		slog.Time("at", at),
	}
	got := appendLine(nil, entry{time: at, msg: "authz.decision", attrs: attrs})
	var want bytes.Buffer
	r := slog.NewRecord(at, slog.LevelInfo, "authz.decision", 0)
	r.AddAttrs(attrs...)
	if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want.Bytes(), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want.Bytes())
	}
	if got[len(got)-1] != '\n' {
		t.Error("line does not end in a newline")
	}
}

func BenchmarkAppendLine(b *testing.B) {
	e := entry{time: time.Now(), msg: "authz.decision", attrs: []slog.Attr{
		slog.String("request_id", "req-123"), slog.String("method", "POST"), slog.String("path", "/v2/models/mlp/infer"),
		slog.String("model", "mlp"), slog.String("decision", "allow"), slog.String("reason", "allowed"),
		slog.Int("status", 200), slog.Int64("latency_us", 12), slog.String("source", "10.0.0.1"),
		slog.String("client_id", "client-001"), slog.String("subject", "client-001"), slog.String("jti", "jti-1"),
		slog.String("issuer", "https://idp.example.com"),
	}}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendLine(buf[:0], e)
	}
}
