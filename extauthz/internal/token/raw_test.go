package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
)

const jwt3 = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

// parseCases is the ParseAuthorization table; FuzzParseAuthorization is seeded from it.
var parseCases = []struct {
	name    string
	values  [][]byte
	want    Raw
	wantErr error
}{
	{name: "bearer token", values: [][]byte{[]byte("Bearer " + jwt3)}, want: jwt3},
	{name: "scheme is case-insensitive", values: [][]byte{[]byte("bEARER " + jwt3)}, want: jwt3},
	{name: "several spaces after the scheme", values: [][]byte{[]byte("Bearer    " + jwt3)}, want: jwt3},
	{name: "surrounding whitespace ignored", values: [][]byte{[]byte(" \tBearer " + jwt3 + " ")}, want: jwt3},
	{name: "no header", values: nil, wantErr: ErrMissing},
	{name: "empty header", values: [][]byte{{}}, wantErr: ErrMissing},
	{name: "blank header", values: [][]byte{[]byte("   ")}, wantErr: ErrMissing},
	{name: "two headers", values: [][]byte{[]byte("Bearer " + jwt3), []byte("Bearer " + jwt3)}, wantErr: ErrMalformed},
	{name: "basic scheme", values: [][]byte{[]byte("Basic dXNlcjpwYXNz")}, wantErr: ErrMalformed},
	{name: "scheme only", values: [][]byte{[]byte("Bearer")}, wantErr: ErrMalformed},
	{name: "scheme and spaces only", values: [][]byte{[]byte("Bearer   x")[:9]}, wantErr: ErrMalformed},
	{name: "no space after scheme", values: [][]byte{[]byte("Bearer" + jwt3)}, wantErr: ErrMalformed},
	{name: "tab after scheme", values: [][]byte{[]byte("Bearer\t" + jwt3)}, wantErr: ErrMalformed},
	{name: "token with inner space", values: [][]byte{[]byte("Bearer " + jwt3[:10] + " " + jwt3[10:])}, wantErr: ErrMalformed},
	{name: "token with comma", values: [][]byte{[]byte("Bearer " + jwt3 + ",x")}, wantErr: ErrMalformed},
	{name: "non-utf8 byte", values: [][]byte{[]byte("Bearer " + jwt3 + "\xff")}, wantErr: ErrMalformed},
	{name: "nul byte", values: [][]byte{[]byte("Bearer " + jwt3[:5] + "\x00" + jwt3[5:])}, wantErr: ErrMalformed},
	{name: "opaque token68", values: [][]byte{[]byte("Bearer mF_9.B5f-41JqM")}, wantErr: ErrMalformed},
	{name: "token68 with padding is not a JWS", values: [][]byte{[]byte("Bearer " + jwt3 + "==")}, wantErr: ErrMalformed},
	{name: "token68 with plus is not a JWS", values: [][]byte{[]byte("Bearer a+b.c.d")}, wantErr: ErrMalformed},
	{name: "two parts", values: [][]byte{[]byte("Bearer abc.def")}, wantErr: ErrMalformed},
	{name: "four parts", values: [][]byte{[]byte("Bearer a.b.c.d")}, wantErr: ErrMalformed},
	{name: "empty part", values: [][]byte{[]byte("Bearer a..c")}, wantErr: ErrMalformed},
	{name: "empty signature", values: [][]byte{[]byte("Bearer a.b.")}, wantErr: ErrMalformed},
	{name: "padding only", values: [][]byte{[]byte("Bearer ===")}, wantErr: ErrMalformed},
	{name: "oversized", values: [][]byte{[]byte("Bearer " + strings.Repeat("a", DefaultMaxHeaderBytes))}, wantErr: ErrTooLarge},
}

func TestParseAuthorization(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAuthorization(tc.values, 0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("token mismatch (lengths %d, %d)", len(got), len(tc.want))
			}
		})
	}
}

func TestParseAuthorizationMaxBytes(t *testing.T) {
	h := []byte("Bearer " + jwt3)
	if _, err := ParseAuthorization([][]byte{h}, len(h)); err != nil {
		t.Fatalf("at the cap: %v", err)
	}
	if _, err := ParseAuthorization([][]byte{h}, len(h)-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the cap: err = %v, want ErrTooLarge", err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, tc := range parseCases {
		if len(tc.values) == 1 {
			f.Add(tc.values[0])
		}
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		got, err := ParseAuthorization([][]byte{h}, 0)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) || got != "" {
				t.Fatalf("failure %T with token", err)
			}
			return
		}
		if !compactJWSPattern.MatchString(string(got)) || !bytes.Contains(h, []byte(got)) {
			t.Fatal("accepted token is not a compact JWS taken from the header")
		}
	})
}

// The grammars classify implements, as regular expressions: an independent oracle.
var (
	token68Pattern    = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)
	compactJWSPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
)

// FuzzClassify checks the one-pass token classifier against the grammars' regular expressions.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{jwt3, "", "=", "a=", "a==b", "a.b.c=", "a..c", ".b.c", "a.b.", "a+b.c.d", "a.b.c.d", "~", "\xff", "a.b.c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := notToken68
		switch {
		case compactJWSPattern.Match(b):
			want = shapeJWS
		case token68Pattern.Match(b):
			want = notJWS
		}
		if got := classify(b); got != want {
			t.Fatalf("classify(%q) = %d, want %d", b, got, want)
		}
	})
}

func TestRawNeverPrints(t *testing.T) {
	const secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln"
	raw := Raw(secret)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "token", raw)
	j, _ := json.Marshal(map[string]Raw{"token": raw})
	outputs := []string{
		fmt.Sprint(raw), fmt.Sprintf("%s %v %q %x %X %#v %+v %d", raw, raw, raw, raw, raw, raw, raw, raw),
		fmt.Sprintf("%v", struct{ T Raw }{raw}), fmt.Sprintf("%#v", []Raw{raw}),
		raw.String(), logged.String(), string(j),
	}
	for _, out := range outputs {
		if strings.Contains(out, "c2VjcmV0") || !strings.Contains(out, "REDACTED") {
			t.Fatalf("output leaks or lacks redaction: %s", out)
		}
	}
}

func ExampleRaw() {
	raw, _ := ParseAuthorization([][]byte{[]byte("Bearer " + jwt3)}, 0)
	slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).Info("checked", "token", raw)
	fmt.Printf("%v\n", raw)
	// Output:
	// level=INFO msg=checked token=REDACTED
	// REDACTED
}

func TestHasAnyScope(t *testing.T) {
	c := &Claims{Scopes: []string{"infer", "read"}}
	tests := []struct {
		name string
		want []string
		ok   bool
	}{
		{name: "empty want", ok: true},
		{name: "one held", want: []string{"admin", "read"}, ok: true},
		{name: "none held", want: []string{"admin"}},
		{name: "prefix is not a match", want: []string{"inf"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.HasAnyScope(tc.want); got != tc.ok {
				t.Fatalf("HasAnyScope(%q) = %v, want %v", tc.want, got, tc.ok)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	e := ErrExpired.with("specific")
	if !errors.Is(e, ErrExpired) || errors.Is(e, ErrMalformed) {
		t.Fatal("hinted copy must match its sentinel only")
	}
	if ErrExpired.Description == "specific" {
		t.Fatal("sentinel mutated")
	}
	if got := e.Error(); got != "token: expired: specific" {
		t.Fatalf("Error() = %q", got)
	}
}
