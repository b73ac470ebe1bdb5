package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// shopSecret is the secret API key of the tests below: it must reach the
// target and no output.
const shopSecret = "sk_live_7Hq2Zx9Lw4Vb"

// secretProfile storms ${SHOP_URL} with the secret in a header and in the
// body; its budget comes from a variable with a default.
const secretProfile = `name: own-shop
target: ${SHOP_URL}
workload:
  model: closed
  stages: "0->2 in 0s, hold 30s"
  think: 50ms
flows:
  - name: buyer
    steps:
      - name: open_cart
        method: POST
        path: /v1/carts
        headers:
          Authorization: "Bearer ${secret:SHOP_KEY}"
        body:
          api_key: "${secret:SHOP_KEY}"
          region: ${REGION:-us-east}
        expect: {status: 201}
budgets: ["p99(open_cart) < ${P99_BUDGET:-5s}", "errors < 1%"]
`

// keyServer answers 201 and counts the requests that carried the secret
// in the Authorization header and in the body.
func keyServer(t *testing.T) (string, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var withKey, all atomic.Int64
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		all.Add(1)
		if string(ctx.Request.Header.Peek("Authorization")) == "Bearer "+shopSecret &&
			bytes.Contains(ctx.PostBody(), []byte(`"api_key":"`+shopSecret+`"`)) {
			withKey.Add(1)
		}
		ctx.SetStatusCode(201)
		ctx.SetBodyString(`{"cart_id":"c1"}`)
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(); <-done })
	return "http://" + ln.Addr().String(), &withKey, &all
}

// noSecretIn fails the test when the secret is in text or in any file
// under dir.
func noSecretIn(t *testing.T, what, text, dir string) {
	t.Helper()
	if strings.Contains(text, shopSecret) {
		t.Errorf("%s shows the secret:\n%s", what, text)
	}
	if dir == "" {
		return
	}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte(shopSecret)) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Errorf("no output file under %s", dir)
	}
}

// TestRunKeepsSecretsOut storms a local server with a profile whose
// target and budget come from variables and whose API key is a secret:
// the key reaches the server in every request and appears in no output
// (stdout, stderr, every --out file), with one process and with workers.
func TestRunKeepsSecretsOut(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1") // workers are this test binary
	base, withKey, all := keyServer(t)
	prof := writeProfile(t, secretProfile)
	t.Setenv("SHOP_KEY", shopSecret)
	t.Setenv("SHOP_URL", "http://127.0.0.1:1") // --env wins over the environment
	for _, workers := range []string{"1", "2"} {
		withKey.Store(0)
		all.Store(0)
		dir := t.TempDir()
		args := []string{"--profile", prof, "--env", "SHOP_URL=" + base, "-e", "P99_BUDGET=3s", "--duration", "2s", "--agents", "2", "--workers", workers}
		for _, kind := range []string{"json", "junit", "markdown", "html", "hgrm", "text", "hlog"} {
			args = append(args, "--out", kind+"="+filepath.Join(dir, "run."+kind))
		}
		code, out, errOut := runIt(t, nil, args...)
		if code != exitOK {
			t.Fatalf("workers %s: exit %d\nstdout:\n%s\nstderr:\n%s", workers, code, out, errOut)
		}
		if all.Load() == 0 || withKey.Load() != all.Load() {
			t.Errorf("workers %s: %d of %d requests carried the key in header and body", workers, withKey.Load(), all.Load())
		}
		if !strings.Contains(out, "Target: the profile's ("+base+")") || !strings.Contains(out, "p99(open_cart) < 3s") {
			t.Errorf("workers %s: the variables did not reach the run:\n%s", workers, out)
		}
		noSecretIn(t, "workers "+workers+": stdout", out, dir)
		noSecretIn(t, "workers "+workers+": stderr", errOut, "")
	}
}

// TestSecretsOutOfErrors: a bad value holding a secret, or a bad --env
// argument, is refused (exit 2) without showing it.
func TestSecretsOutOfErrors(t *testing.T) {
	t.Setenv("SHOP_KEY", shopSecret)
	bad := writeProfile(t, strings.Replace(secretProfile, "path: /v1/carts", "path: ${secret:SHOP_KEY}/v1/carts", 1))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--profile", bad, "-e", "SHOP_URL=http://127.0.0.1:9"}, `path "***/v1/carts" must start with /`},
		{[]string{"profiles", "validate", "-e", "SHOP_URL=http://127.0.0.1:9", bad}, `path "***/v1/carts" must start with /`},
		{[]string{"run", "--profile", bad, "--env", shopSecret}, "--env: argument 1 is not NAME=VALUE"},
		{[]string{"profiles", "validate", "-e", "X=1", "-e", "-" + shopSecret + "=x", bad}, "--env: argument 2 is not NAME=VALUE"},
		{[]string{"run", "--profile", writeProfile(t, secretProfile)}, "variable SHOP_URL is not set"},
	}
	for _, c := range cases {
		var out, errOut runBuffer
		code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errOut}, c.args)
		if code != exitUsage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant %d and %q", c.args, code, errOut.String(), exitUsage, c.want)
		}
		noSecretIn(t, strings.Join(c.args[:2], " ")+": output", out.String()+errOut.String(), "")
	}
}

// TestProfilesShowFileResolves: `profiles show FILE` prints the profile
// with its variables filled in and the secret redacted; validate agrees.
func TestProfilesShowFileResolves(t *testing.T) {
	t.Setenv("SHOP_KEY", shopSecret)
	prof := writeProfile(t, secretProfile)
	var out, errOut runBuffer
	code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errOut}, []string{"profiles", "show", prof, "--env", "SHOP_URL=http://127.0.0.1:9", "-e", "REGION=eu-west"})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"target: http://127.0.0.1:9", `Authorization: "Bearer ***"`, "region: eu-west", `"p99(open_cart) < 5s"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, out.String())
		}
	}
	noSecretIn(t, "profiles show", out.String()+errOut.String(), "")
	var vout, verr runBuffer
	if code := runCLI(context.Background(), &cliEnv{stdout: &vout, stderr: &verr}, []string{"profiles", "validate", "-e", "SHOP_URL=http://127.0.0.1:9", prof}); code != exitOK {
		t.Errorf("validate: exit %d: %s", code, verr.String())
	}
}
