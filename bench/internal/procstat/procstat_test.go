package procstat

import (
	"os"
	"runtime"
	"testing"
)

func TestStatusKiB(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/status is Linux's")
	}
	self, err := StatusKiB(0, "VmRSS")
	if err != nil || self <= 0 {
		t.Fatalf("own VmRSS = %d, %v; want > 0", self, err)
	}
	hwm, err := StatusKiB(os.Getpid(), "VmHWM")
	if err != nil || hwm < self {
		t.Fatalf("VmHWM by pid = %d, %v; want at least the VmRSS read before (%d)", hwm, err, self)
	}
	if _, err := StatusKiB(0, "NoSuchField"); err == nil {
		t.Fatal("an absent field gave no error")
	}
	if _, err := StatusKiB(0, "Name"); err == nil {
		t.Fatal("a field that is not a number of kB gave no error")
	}
}
