package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/config"
	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
	"github.com/torchgate/torchgate/extauthz/internal/revocation"
)

const revokeUsage = `usage: extauthz revoke (--jti JTI [--exp RFC3339] | --client ID) (--config FILE | --redis URL)

Revokes one token (by jti, until its exp: default now + 24h) or every token a client holds now
(a not-before watermark), on every replica within a second, through the Redis that the
replicas share (the config's redis.url, or --redis). Without Redis a CLI cannot reach a running
server's memory, so it refuses: revoke a token with POST /oauth2/revoke (RFC 7009) as the client
that holds it, or refuse a client with 'extauthz clients disable'.
`

// revokeTimeout bounds the Redis round trip of the CLI.
const revokeTimeout = 5 * time.Second

// revokeCmd runs `extauthz revoke ...`.
func revokeCmd(args []string) error { return runRevoke(args, os.Stderr) }

// runRevoke is revokeCmd with its output injected.
func runRevoke(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, revokeUsage) }
	jti := fs.String("jti", "", "jti of the token to revoke")
	expArg := fs.String("exp", "", "the token's exp (RFC 3339); bounds how long the revocation is kept")
	client := fs.String("client", "", "client id whose tokens issued until now are revoked")
	configPath := fs.String("config", "", "extauthz configuration file; its redis.url is used")
	redisURL := fs.String("redis", "", "Redis URL (overrides the configuration's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*jti == "") == (*client == "") {
		fs.Usage()
		return errors.New("revoke: give exactly one of --jti and --client")
	}
	var exp time.Time
	if *expArg != "" {
		var err error
		if exp, err = time.Parse(time.RFC3339, *expArg); err != nil {
			return fmt.Errorf("revoke: --exp: %w", err)
		}
	}
	url := *redisURL
	if url == "" && *configPath != "" {
		var err error
		cfg, err := config.Load(*configPath)
		if err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
		url = cfg.Redis.URL
	}
	if url == "" {
		fs.Usage()
		return errors.New("revoke: no redis configured: the CLI cannot reach a running server's memory without it")
	}
	rdb, err := ratelimit.NewClient(url)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	store := revocation.New(revocation.Options{Redis: rdb})
	if *jti != "" {
		err = store.RevokeJTI(ctx, *jti, "", exp)
	} else {
		err = store.RevokeClient(ctx, *client, time.Time{})
	}
	if err != nil {
		return err
	}
	if *jti != "" {
		fmt.Fprintln(stderr, "revoked token", *jti)
	} else {
		fmt.Fprintf(stderr, "revoked every token of client %q issued until now\n", *client)
	}
	return nil
}
