package agents

import (
	"errors"
	"fmt"
	"net"

	"github.com/agentstorm/agentstorm/profiles"
)

// applyTLS gives an https endpoint the configuration of t (CA file, client
// certificate, server name, minimum version); an http endpoint is left
// alone.
func (ep *endpoint) applyTLS(t profiles.TLS, insecure bool) error {
	if ep.tls == nil || t.IsZero() {
		return nil
	}
	c, err := t.Config(ep.tls.ServerName, insecure)
	if err != nil {
		return fmt.Errorf("target %s: TLS: %w", ep.raw, err)
	}
	ep.tls = c
	return nil
}

// isTLSAlert reports whether err is a TLS alert the peer sent: with TLS 1.3
// a server that refuses the client's certificate says so only after the
// client's side of the handshake is done, as an alert on the first read
// ("remote error: tls: certificate required").
func isTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
