// Command demo runs torchgate end to end on one machine and prints the story: it builds the
// binaries, starts a real redis-server when installed (else the in-process limiter), extauthz
// with the built-in issuer, the worker on the CPU with the bundled model and the dev edge on
// envoy/envoy.yaml, walks a client through every outcome, and cleans up. `make demo` runs it
// from the repository root.
//
// Usage:
//
//	demo [-root .] [-no-redis] [-v]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/torchgate/torchgate/extauthz/internal/demo"
)

func main() {
	root := flag.String("root", ".", "repository root")
	noRedis := flag.Bool("no-redis", false, "use the in-process limiter even if redis-server is installed")
	verbose := flag.Bool("v", false, "show the processes' logs")
	flag.Parse()
	if err := run(*root, *noRedis, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(root string, noRedis, verbose bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "torchgate-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bin")
	fmt.Println("building extauthz and worker ...")
	if err := demo.Build(ctx, root, bin); err != nil {
		return err
	}
	var logs io.Writer
	if verbose {
		logs = os.Stderr
	}
	s, err := demo.Start(ctx, demo.Options{Root: root, Bin: bin, Dir: dir, NoRedis: noRedis, Log: logs})
	if err != nil {
		return err
	}
	defer s.Stop()
	limiter := "in-process limiter (redis-server not installed)"
	if s.RedisUsed() {
		limiter = "a real redis-server"
	}
	fmt.Printf("stack up: edge %s, extauthz %s, limits and revocation on %s\n\n", s.EdgeURL, s.AuthzHTTP, limiter)
	steps, err := demo.Story(ctx, s)
	demo.Print(os.Stdout, steps)
	if err != nil {
		return err
	}
	fmt.Println("\ndone; stopping the stack")
	return nil
}
