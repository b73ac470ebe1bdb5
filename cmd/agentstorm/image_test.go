package main

import (
	"debug/elf"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// imageScript builds the image from a locally built binary (no registry).
const imageScript = "../../deploy/build-image.sh"

// TestK8sRunsTheBuiltImage: the image the Kubernetes example runs is the
// one deploy/build-image.sh and the Dockerfile build by default.
func TestK8sRunsTheBuiltImage(t *testing.T) {
	script, err := os.ReadFile(imageScript)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`image=\$\{1:-([^}]+)\}`).FindSubmatch(script)
	if m == nil {
		t.Fatal("build-image.sh: no default image (image=${1:-...})")
	}
	built := string(m[1])
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dockerfile), "-t "+built+" ") {
		t.Errorf("the Dockerfile's build command does not tag %s", built)
	}
	for _, f := range []string{"storm-job.yaml", "merge-job.yaml"} {
		for _, d := range yamlDocs(t, f) {
			for i := range dig(t, d, "spec", "template", "spec", "containers").([]any) {
				c := dig(t, d, "spec", "template", "spec", "containers", i).(map[string]any)
				if c["image"] != built {
					t.Errorf("%s: container %v runs %v; the build makes %s", f, c["name"], c["image"], built)
				}
			}
		}
	}
}

// TestImageBuilds runs deploy/build-image.sh with buildah (skipped where
// buildah is not installed, as in CI, and with -short) and checks the
// image: a non-root user, the binary as entrypoint, a static binary that
// runs, the CA bundle, and no other file (no shell).
func TestImageBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a binary and an image")
	}
	if _, err := exec.LookPath("buildah"); err != nil {
		t.Skip("buildah is not installed (Debian: apt-get install buildah)")
	}
	store := t.TempDir()
	flags := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}
	bh := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("buildah", append(flags, args...)...).Output()
		if err != nil {
			t.Fatalf("buildah %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	const image = "localhost/agentstorm:test"
	cmd := exec.Command("bash", imageScript, image)
	cmd.Env = append(os.Environ(), "BUILDAH_FLAGS="+strings.Join(flags, " "), "VERSION=v0.0.0-imagetest")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("buildah", append(flags, "rm", "--all")...).Run() })

	var info struct {
		OCIv1 struct {
			Config struct {
				User       string
				Entrypoint []string
				Env        []string
				WorkingDir string
			} `json:"config"`
		}
	}
	if err := json.Unmarshal([]byte(bh("inspect", "--type", "image", image)), &info); err != nil {
		t.Fatal(err)
	}
	cfg := info.OCIv1.Config
	if cfg.User != "65532:65532" || strings.Join(cfg.Entrypoint, " ") != "/usr/local/bin/agentstorm" || cfg.WorkingDir != "/data" {
		t.Errorf("image config: user %q, entrypoint %v, workdir %q", cfg.User, cfg.Entrypoint, cfg.WorkingDir)
	}

	root := bh("mount", bh("from", image))
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if want := "etc/ssl/certs/ca-certificates.crt usr/local/bin/agentstorm"; strings.Join(files, " ") != want {
		t.Errorf("image files %v, want only %s", files, want)
	}
	for dir, mode := range map[string]os.FileMode{"tmp": os.ModeDir | os.ModeSticky | 0o777, "data": os.ModeDir | 0o755} {
		if fi, err := os.Stat(filepath.Join(root, dir)); err != nil || fi.Mode() != mode {
			t.Errorf("/%s: %v (mode %v), want mode %v", dir, err, fi.Mode(), mode)
		}
	}

	bin := filepath.Join(root, "usr/local/bin/agentstorm")
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a dynamic loader (PT_INTERP): not static")
		}
	}
	run := exec.Command(bin, "version")
	if os.Getuid() == 0 {
		// Run it as the image's user, from a directory that user can reach
		// (the store's are root's alone).
		dir, err := os.MkdirTemp("", "agentstorm-image-*")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		b, err := os.ReadFile(bin)
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "agentstorm"), b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		run = exec.Command(filepath.Join(dir, "agentstorm"), "version")
		run.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	}
	out, err := run.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "agentstorm v0.0.0-imagetest ") {
		t.Errorf("agentstorm version in the image: %v: %s", err, out)
	}
}
