// Command extauthz is torchgate's edge authorization service: the Envoy ext_authz decision
// service for OAuth2 bearer tokens, with its operator commands.
//
// Usage:
//
//	extauthz serve --config FILE
//	extauthz edge [--envoy envoy/envoy.yaml] [--listen ADDR] [--cluster NAME=HOST:PORT ...]
//	extauthz clients add|list|disable|rotate-secret --file clients.yaml ...
//	extauthz keys rotate|list --dir DIR
//	extauthz revoke (--jti JTI | --client ID) --config FILE
package main

import (
	"fmt"
	"os"
)

const usage = `usage: extauthz <command> [flags]

commands:
  serve --config FILE   run the ext_authz gRPC service and its HTTP endpoints
  edge --envoy FILE     the dev edge: Envoy's stand-in for one host, driven by the same envoy.yaml
  clients ...           manage the built-in issuer's client registry (add prints only the secret)
  keys ...              rotate and list the built-in issuer's signing keys
  revoke ...            revoke a token (jti) or every token of a client, on every replica (Redis)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "edge":
		err = edgeCmd(os.Args[2:])
	case "clients":
		err = clientsCmd(os.Args[2:])
	case "keys":
		err = keysCmd(os.Args[2:])
	case "revoke":
		err = revokeCmd(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "extauthz: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "extauthz:", err)
		os.Exit(1)
	}
}
