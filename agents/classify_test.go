package agents

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestClassify: every error class from the errors the loops and the
// goroutine transport really return, wrapped as they wrap them; a DNS
// error that timed out is still DNS.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want errClass
	}{
		{nil, classOK},
		{errCallTimeout, classTimeout},
		{errDialTimeout, classTimeout},
		{fmt.Errorf("read answer: %w", os.ErrDeadlineExceeded), classTimeout},
		{fmt.Errorf("dial x: %w", &net.DNSError{Err: "no such host", IsNotFound: true}), classDNS},
		{&net.DNSError{Err: "timeout", IsTimeout: true}, classDNS},
		{fmt.Errorf("dial x: %w", syscall.ECONNREFUSED), classRefused},
		{fmt.Errorf("read answer: %w", syscall.ECONNRESET), classReset},
		{fmt.Errorf("read answer: connection closed before any byte: %w", io.EOF), classReset},
		{fmt.Errorf("handshake: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), classTLS},
		{fmt.Errorf("read answer: %w", errBodyTooLarge), classBodyTooLarge},
		{errors.New("something else"), classOther},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestClassifyTimeoutsAllocateNothing: an overloaded target times out
// thousands of calls a second; classifying them must not feed the collector.
func TestClassifyTimeoutsAllocateNothing(t *testing.T) {
	for _, err := range []error{errCallTimeout, errDialTimeout} {
		if n := testing.AllocsPerRun(100, func() { _ = classify(err) }); n != 0 {
			t.Errorf("classify(%v): %v allocations, want 0", err, n)
		}
	}
}
