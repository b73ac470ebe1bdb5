package main

import (
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/spf13/pflag"
)

// addTLSFlags declares the flags that replace a profile's target.tls field
// by field.
func addTLSFlags(fs *pflag.FlagSet, t *profiles.TLS) {
	fs.StringVar(&t.CAFile, "ca-file", "", "PEM file of the CAs to trust for https targets instead of the system roots (replaces the profile's target.tls.ca_file)")
	fs.StringVar(&t.ClientCert, "client-cert", "", "PEM client certificate for mutual TLS, with --client-key (replaces target.tls.client_cert)")
	fs.StringVar(&t.ClientKey, "client-key", "", "PEM key of --client-cert (replaces target.tls.client_key)")
	fs.StringVar(&t.ServerName, "tls-server-name", "", "server name to send and verify instead of the target URL's host (replaces target.tls.server_name)")
	fs.StringVar(&t.MinVersion, "tls-min-version", "", "lowest TLS version to accept: 1.0, 1.1, 1.2 or 1.3 (default 1.2; replaces target.tls.min_version)")
}
