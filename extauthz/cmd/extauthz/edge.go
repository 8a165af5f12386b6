package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/torchgate/torchgate/extauthz/internal/edge"
)

// edgeCmd runs the dev edge, Envoy's stand-in for development and single hosts, on the
// project's envoy.yaml until SIGTERM or SIGINT.
func edgeCmd(args []string) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	path := fs.String("envoy", "envoy/envoy.yaml", "Envoy v3 bootstrap (YAML) to serve")
	listen := fs.String("listen", "", "listener address (default: the file's)")
	admin := fs.String("admin", "", `admin address serving /ready (default: the file's; "off": none)`)
	clusters := map[string]string{}
	fs.Func("cluster", "NAME=HOST:PORT: replace a cluster's endpoints (repeatable)", func(s string) error {
		name, addr, ok := strings.Cut(s, "=")
		if !ok || name == "" || addr == "" {
			return fmt.Errorf("want NAME=HOST:PORT, got %q", s)
		}
		clusters[name] = addr
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("edge: unexpected arguments")
	}
	b, err := edge.Load(*path)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	e, err := edge.New(b, edge.Options{Listen: *listen, Admin: *admin, Clusters: clusters, Logger: logger})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return e.Run(ctx)
}
