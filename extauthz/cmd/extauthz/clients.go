package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
)

const clientsUsage = `usage: extauthz clients <command> --file clients.yaml [flags]

commands:
  add --id NAME --scopes "a b" [--tier T] [--audiences "x y"] [--jwks FILE | --jwks-uri URL]
                          register a client; prints ONLY its new secret on stdout
                          (with --jwks/--jwks-uri: a private_key_jwt client, no secret)
  list                    list the clients (never their secrets)
  disable --id NAME       refuse the client and every token it holds
  enable --id NAME        accept the client again (tokens issued before the disable stay dead)
  rotate-secret --id NAME replace the secret; prints ONLY the new secret on stdout
`

// clientsCmd runs `extauthz clients ...`.
func clientsCmd(args []string) error {
	return runClients(args, os.Stdout, os.Stderr, time.Now)
}

// runClients is clientsCmd with its outputs and clock injected. Secrets go to stdout and
// nothing else does; details go to stderr.
func runClients(args []string, stdout, stderr io.Writer, now func() time.Time) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, clientsUsage)
		return errors.New("clients: a command is required")
	}
	fs := flag.NewFlagSet("clients "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "client registry file (YAML)")
	id := fs.String("id", "", "client id")
	scopes := fs.String("scopes", "", "space-separated allowed scopes")
	tier := fs.String("tier", "", "service tier, copied into the tier claim")
	audiences := fs.String("audiences", "", "space-separated allowed audiences (default: the issuer's audience)")
	jwksFile := fs.String("jwks", "", "file with the client's public JWKS (private_key_jwt)")
	jwksURI := fs.String("jwks-uri", "", "URL of the client's public JWKS (private_key_jwt)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("clients: --file is required")
	}
	needID := func() error {
		if *id == "" {
			return fmt.Errorf("clients %s: --id is required", args[0])
		}
		return nil
	}
	switch args[0] {
	case "add":
		if err := needID(); err != nil {
			return err
		}
		c := &clients.Client{ID: *id, Scopes: strings.Fields(*scopes), Audiences: strings.Fields(*audiences),
			Tier: *tier, JWKSURI: *jwksURI}
		if *jwksFile != "" {
			b, err := os.ReadFile(*jwksFile)
			if err != nil {
				return fmt.Errorf("clients add: %w", err)
			}
			c.JWKS = string(b)
		}
		return addClient(*file, c, stdout, stderr)
	case "list":
		return listClients(*file, stdout)
	case "disable", "enable":
		if err := needID(); err != nil {
			return err
		}
		disable := args[0] == "disable"
		err := clients.Update(*file, func(f *clients.File) error {
			c := f.Find(*id)
			if c == nil {
				return fmt.Errorf("%w: %q", clients.ErrNotFound, *id)
			}
			c.Disabled = disable
			if disable {
				// Tokens issued before now stay dead even if the client is enabled again.
				c.NotBefore = now().UTC().Truncate(time.Second).Add(time.Second)
			}
			return nil
		})
		if err == nil {
			fmt.Fprintf(stderr, "client %q %sd\n", *id, args[0])
		}
		return err
	case "rotate-secret":
		if err := needID(); err != nil {
			return err
		}
		secret, hash, err := newSecret()
		if err != nil {
			return err
		}
		err = clients.Update(*file, func(f *clients.File) error {
			c := f.Find(*id)
			if c == nil {
				return fmt.Errorf("%w: %q", clients.ErrNotFound, *id)
			}
			if c.AuthMethod == clients.AuthPrivateKeyJWT {
				return fmt.Errorf("clients rotate-secret: %q authenticates with private_key_jwt and has no secret", *id)
			}
			c.SecretHash = hash
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "new secret for client %q below; the old one no longer works. Store it now: it is not kept.\n", *id)
		fmt.Fprintln(stdout, secret)
		return nil
	default:
		fmt.Fprint(stderr, clientsUsage)
		return fmt.Errorf("clients: unknown command %q", args[0])
	}
}

// addClient registers c; a secret client's secret is printed on stdout alone.
func addClient(file string, c *clients.Client, stdout, stderr io.Writer) error {
	var secret string
	if c.JWKS != "" || c.JWKSURI != "" {
		c.AuthMethod = clients.AuthPrivateKeyJWT
	} else {
		var err error
		if secret, c.SecretHash, err = newSecret(); err != nil {
			return err
		}
	}
	err := clients.Update(file, func(f *clients.File) error {
		if f.Find(c.ID) != nil {
			return fmt.Errorf("%w: %q", clients.ErrExists, c.ID)
		}
		f.Clients = append(f.Clients, c)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "added client %q (scopes %q, audiences %q, tier %q) to %s\n",
		c.ID, strings.Join(c.Scopes, " "), strings.Join(c.Audiences, " "), c.Tier, file)
	if secret != "" {
		fmt.Fprintln(stderr, "its secret is below; store it now: only a hash is kept.")
		fmt.Fprintln(stdout, secret)
	}
	return nil
}

// newSecret generates a secret and its stored hash.
func newSecret() (secret, hash string, err error) {
	if secret, err = clients.GenerateSecret(); err != nil {
		return "", "", err
	}
	if hash, err = clients.HashSecret(secret); err != nil {
		return "", "", err
	}
	return secret, hash, nil
}

// listClients prints the registry without secrets or hashes.
func listClients(file string, stdout io.Writer) error {
	f, err := clients.Load(file)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMETHOD\tSCOPES\tAUDIENCES\tTIER\tDISABLED")
	for _, c := range f.Clients {
		method := c.AuthMethod
		if method == "" {
			method = clients.AuthSecretBasic + "," + clients.AuthSecretPost
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\n", c.ID, method, strings.Join(c.Scopes, " "),
			strings.Join(c.Audiences, " "), c.Tier, c.Disabled)
	}
	return tw.Flush()
}
