package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleFileLoads(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Issuers) == 0 || len(c.Routes) == 0 {
		t.Fatalf("example has no issuers or routes: %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader("routes:\n  - path_prefix: /v2/\n    scopes: [a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.GRPC != DefaultGRPC || c.Listen.HTTP != DefaultHTTP || c.NoRoute != NoRouteDeny ||
		c.Auth.MaxHeaderBytes != DefaultMaxHeaderBytes || c.Auth.ClockSkew != DefaultClockSkew ||
		c.Cache.Size != DefaultCacheSize || c.Routes[0].Cost != 1 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestDurations(t *testing.T) {
	c, err := Parse(strings.NewReader("auth: {clock_skew: 5s}\ntoken_cache: {max_ttl: 90s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.ClockSkew != 5*time.Second || c.Cache.MaxTTL != 90*time.Second {
		t.Errorf("durations: %v %v", c.Auth.ClockSkew, c.Cache.MaxTTL)
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "listen: {grpcc: x}\n", "grpcc"},
		{"bad listen address", "listen: {grpc: nonsense}\n", "listen.grpc"},
		{"issuer without audience", "issuers: [{issuer: https://a}]\n", "audiences"},
		{"duplicate issuer", "issuers: [{issuer: https://a, audiences: [x]}, {issuer: https://a, audiences: [x]}]\n", "twice"},
		{"hmac algorithm", "issuers: [{issuer: https://a, audiences: [x], algorithms: [HS256]}]\n", "HS256"},
		{"none algorithm", "issuers: [{issuer: https://a, audiences: [x], algorithms: [none]}]\n", "none"},
		{"route without scope", "routes: [{path_prefix: /a}]\n", "scopes"},
		{"route with both path kinds", "routes: [{path_prefix: /a, path: /a, scopes: [s]}]\n", "exactly one"},
		{"route with negative cost", "routes: [{path_prefix: /a, scopes: [s], cost: -1}]\n", "cost"},
		{"bad no_route", "no_route: allow\n", "no_route"},
		{"tls without key", "listen: {grpc_tls: {cert_file: c.pem}}\n", "key_file"},
		{"bad log level", "log_level: loud\n", "log_level"},
		{"not yaml", "{{{", "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.yaml))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
}
