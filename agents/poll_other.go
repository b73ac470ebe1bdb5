//go:build !linux

package agents

import (
	"errors"
	"net"
	"time"
)

// hasPoller is false here: every call goes through the goroutine
// transport, and a loop only runs its agents' state machines and timers.
const hasPoller = false

var errNoPoller = errors.New("no event-loop poller on this system")

// poller, without epoll, only waits for a timeout or a wake.
type poller struct{ wakec chan struct{} }

func newPoller() (*poller, error) { return &poller{wakec: make(chan struct{}, 1)}, nil }

func (p *poller) close() {}

// wake makes a wait in progress (or the next one) return.
func (p *poller) wake() {
	select {
	case p.wakec <- struct{}{}:
	default:
	}
}

// wait blocks up to timeout (negative: until woken); there are no socket
// events.
func (p *poller) wait(timeout time.Duration, _ func(fd int, seq uint32, ev uint32)) bool {
	if timeout < 0 {
		<-p.wakec
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.wakec:
		return true
	case <-t.C:
		return false
	}
}

func openSocket(net.IP, *net.TCPAddr) (int, error)        { return -1, errNoPoller }
func (p *poller) connect(int, *net.TCPAddr, uint32) error { return errNoPoller }

func connectResult(int) error { return errNoPoller }

const (
	evIn  = 1
	evOut = 4
	evErr = 8
)

func sysRead(int, []byte) (int, error)  { return -1, errNoPoller }
func sysWrite(int, []byte) (int, error) { return -1, errNoPoller }
func isAgain(error) bool                { return false }
func sysClose(int)                      {}
