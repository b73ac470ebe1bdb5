// Package chromium finds the headless browser the tests render pages in
// (the HTML report, the live dashboard) and gives the flags every run of
// it takes.
package chromium

import (
	"os"
	"os/exec"
	"testing"
)

// Path returns the browser's path, or skips the test (failing instead in
// CI, where .ci/run installs it).
func Path(t testing.TB) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (CI=true): .ci/run installs it with apt-get install -y chromium")
	}
	t.Skip("chromium is not installed: apt-get install -y chromium to check the pages render")
	return ""
}

// Args are the flags of every headless run: no sandbox, GPU or network of
// its own, a fresh profile, the console on stderr.
func Args(t testing.TB) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--window-size=1400,3200", "--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
}
