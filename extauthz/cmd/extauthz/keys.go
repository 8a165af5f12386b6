package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/signing"
)

const keysUsage = `usage: extauthz keys <command> --dir DIR [flags]

commands:
  rotate [--sign-after 65m] [--retain 1h1m] [--alg ES256|RS256]
                 add a key, published now and signing after --sign-after (longer than the JWKS
                 max cache age); keys it supersedes retire --retain after it takes over (the
                 longest token lifetime plus skew). Prints the new kid on stdout.
  list           list the keys and their schedule
`

// keysCmd runs `extauthz keys ...`.
func keysCmd(args []string) error { return runKeys(args, os.Stdout, os.Stderr) }

// runKeys is keysCmd with its outputs injected.
func runKeys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: a command is required")
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "signing key directory")
	signAfter := fs.Duration("sign-after", signing.DefaultSignDelay, "delay before the new key signs")
	retain := fs.Duration("retain", signing.DefaultRetainAfter, "how long superseded keys stay published after the new key signs")
	alg := fs.String("alg", signing.DefaultAlgorithm, "algorithm of the new key: ES256 or RS256")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("keys: --dir is required")
	}
	switch args[0] {
	case "rotate":
		e, err := signing.Rotate(*dir, signing.RotateOptions{Algorithm: *alg, SignDelay: *signAfter, RetainAfter: *retain})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "added %s key %s: published now, signs from %s\n", e.Alg, e.KID, e.SignAfter.Format(time.RFC3339))
		fmt.Fprintln(stdout, e.KID)
		return nil
	case "list":
		k, err := signing.Open(*dir, signing.Options{Algorithm: *alg})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tCREATED\tSIGN_AFTER\tRETIRE_AFTER")
		for _, e := range k.Entries() {
			retire := "-"
			if !e.RetireAfter.IsZero() {
				retire = e.RetireAfter.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.KID, e.Alg, e.Created.Format(time.RFC3339),
				e.SignAfter.Format(time.RFC3339), retire)
		}
		return tw.Flush()
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: unknown command %q", args[0])
	}
}
