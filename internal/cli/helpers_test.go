package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/broker"
)

// testWriter sends broker logs to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// startBroker runs an in-process broker on a free loopback port with its
// own data directory and returns it with its data directory; mod may
// adjust the config.
func startBroker(t testing.TB, mod ...func(*broker.Config)) (*broker.Broker, string) {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	lv := slog.LevelWarn
	if os.Getenv("CHRONIK_TEST_DEBUG") != "" {
		lv = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: lv}))
	for _, m := range mod {
		m(&cfg)
	}
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, cfg.DataDir
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs a tool in-process with stdin and returns what it printed.
func run(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code := Main(ctx, env, args)
	r := result{stdout: out.String(), stderr: errb.String(), code: code}
	if testing.Verbose() {
		t.Logf("$ chronik %s -> %d\n%s%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	}
	return r
}

// mustRun is run that fails the test unless the exit code is 0.
func mustRun(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	r := run(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("chronik %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// on appends the bootstrap flag for addr.
func on(addr string, args ...string) []string {
	return append(args, "--bootstrap", addr)
}
