package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/syncbuf"
)

var urlTests = []struct {
	name string
	url  string
	want *redis.UniversalOptions // nil: ErrInvalidURL
}{
	{"single with db", "redis://127.0.0.1:6379/0", &redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}}},
	{"single with credentials and db 2", "redis://u:s3cret@redis:6380/2",
		&redis.UniversalOptions{Addrs: []string{"redis:6380"}, Username: "u", Password: "s3cret", DB: 2}},
	{"tls", "rediss://redis.example:6379", &redis.UniversalOptions{Addrs: []string{"redis.example:6379"}}},
	{"sentinel", "redis+sentinel://s1:26379,s2:26379,s3:26379/mymaster/1",
		&redis.UniversalOptions{Addrs: []string{"s1:26379", "s2:26379", "s3:26379"}, MasterName: "mymaster", DB: 1}},
	{"sentinel without db", "redis+sentinel://:p%40ss@s1:26379/mymaster",
		&redis.UniversalOptions{Addrs: []string{"s1:26379"}, MasterName: "mymaster", Password: "p@ss"}},
	{"cluster", "redis+cluster://h1:7000,h2:7001", &redis.UniversalOptions{Addrs: []string{"h1:7000", "h2:7001"}, IsClusterMode: true}},
	{"cluster of one seed", "redis+cluster://h1:7000", &redis.UniversalOptions{Addrs: []string{"h1:7000"}, IsClusterMode: true}},
	{"ipv6 cluster", "redis+cluster://[::1]:7000,[::1]:7001", &redis.UniversalOptions{Addrs: []string{"[::1]:7000", "[::1]:7001"}, IsClusterMode: true}},
	{"unknown scheme", "http://h:1", nil},
	{"no scheme", "h1:6379", nil},
	{"empty", "", nil},
	{"bad single url", "redis://u:s3cret@h:notaport", nil},
	{"sentinel without master", "redis+sentinel://s1:26379", nil},
	{"sentinel with bad db", "redis+sentinel://s1:26379/m/x", nil},
	{"sentinel with negative db", "redis+sentinel://s1:26379/m/-1", nil},
	{"cluster with a path", "redis+cluster://h1:7000/0", nil},
	{"cluster with a query", "redis+cluster://h1:7000?x=1", nil},
	{"address without port", "redis+cluster://h1", nil},
	{"port out of range", "redis+cluster://h1:70000", nil},
	{"empty address", "redis+cluster://h1:1,", nil},
	{"password without at", "redis+cluster://user:s3cret,h1:1", nil},
	{"bad escape in password", "redis+cluster://u:%zz@h1:1", nil},
}

func TestParseURL(t *testing.T) {
	for _, tc := range urlTests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseURL(tc.url)
			if tc.want == nil {
				if !errors.Is(err, ErrInvalidURL) {
					t.Fatalf("err = %v, want ErrInvalidURL", err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error reveals the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Addrs, tc.want.Addrs) || got.MasterName != tc.want.MasterName || got.DB != tc.want.DB ||
				got.Username != tc.want.Username || got.Password != tc.want.Password || got.IsClusterMode != tc.want.IsClusterMode {
				t.Fatalf("got addrs=%q master=%q db=%d user=%q password=%q cluster=%v, want %+v",
					got.Addrs, got.MasterName, got.DB, got.Username, got.Password, got.IsClusterMode, tc.want)
			}
			if strings.HasPrefix(tc.url, "rediss:") != (got.TLSConfig != nil) {
				t.Fatalf("TLS config %v for %s", got.TLSConfig, tc.url)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, tc := range urlTests {
		f.Add(tc.url)
	}
	f.Fuzz(func(t *testing.T, url string) {
		o, err := parseURL(url)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("err = %v, not ErrInvalidURL", err)
			}
			return
		}
		if len(o.Addrs) == 0 || slices.Contains(o.Addrs, "") {
			t.Fatalf("accepted %q with addresses %q", url, o.Addrs)
		}
	})
}

func TestNewClientTopologies(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"single", "redis://127.0.0.1:1/0", "*redis.Client"},
		{"sentinel", "redis+sentinel://127.0.0.1:1/m", "*redis.Client"},
		{"cluster", "redis+cluster://127.0.0.1:1,127.0.0.1:2", "*redis.ClusterClient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClientTimeout(tc.url, 7*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			var o *redis.Options
			switch c := c.(type) {
			case *redis.Client:
				o = c.Options()
			case *redis.ClusterClient:
				co := c.Options()
				o = &redis.Options{ReadTimeout: co.ReadTimeout, WriteTimeout: co.WriteTimeout,
					ContextTimeoutEnabled: co.ContextTimeoutEnabled, MaxRetries: co.MaxRetries, DialerRetries: co.DialerRetries}
			}
			if got := fmt.Sprintf("%T", c); got != tc.want {
				t.Fatalf("client %s, want %s", got, tc.want)
			}
			if o.ReadTimeout != 7*time.Millisecond || o.WriteTimeout != 7*time.Millisecond || !o.ContextTimeoutEnabled ||
				o.MaxRetries > 0 || o.DialerRetries != 1 {
				t.Fatalf("options read=%v write=%v ctx=%v retries=%d dial retries=%d",
					o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled, o.MaxRetries, o.DialerRetries)
			}
		})
	}
	if _, err := NewClient("nope://"); !errors.Is(err, ErrInvalidURL) {
		t.Fatalf("NewClient(nope://) err = %v", err)
	}
}

func TestLogClientToSendsLibraryLogsToSlog(t *testing.T) {
	var out syncbuf.Buffer
	LogClientTo(slog.New(slog.NewJSONHandler(&out, nil)))
	t.Cleanup(func() { LogClientTo(slog.Default()) })

	// A sentinel that is not there: the library logs that dialling it failed.
	c, err := NewClientTimeout("redis+sentinel://127.0.0.1:1/torchgate", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("PING through a missing sentinel succeeded")
	}
	var rec struct{ Level, Msg, Component string }
	line, _, _ := strings.Cut(out.String(), "\n")
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("library log %q is not a JSON record: %v", out.String(), err)
	}
	if rec.Component != "go-redis" || rec.Level != "INFO" || !strings.Contains(rec.Msg, "127.0.0.1:1") {
		t.Errorf("record %+v, want component go-redis, level INFO, a message about the sentinel's address", rec)
	}
}
