package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/broker"
)

// childArgsEnv makes the test binary act as `chronik` with these arguments
// (JSON-encoded) instead of running tests: the load generator of
// TestProfileProduce runs in its own process, so the test process's
// -cpuprofile shows the broker alone.
const childArgsEnv = "CHRONIK_CLI_CHILD_ARGS"

func TestMain(m *testing.M) {
	if js := os.Getenv(childArgsEnv); js != "" {
		var args []string
		if err := json.Unmarshal([]byte(js), &args); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(2)
		}
		os.Exit(Main(context.Background(), Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, args))
	}
	code := m.Run()
	if logDataDir != "" {
		os.RemoveAll(logDataDir)
	}
	os.Exit(code)
}

// TestProfileProduce is a profiling harness, not a test: it runs an
// in-process broker with the default config (fsync before every
// acknowledgement) and, in a child process, `chronik bench produce` of
// 1 KiB records to 6 partitions, acks=all, idempotent, for
// CHRONIK_PROFILE_SECONDS. The test process then holds only the broker, so
//
//	CHRONIK_PROFILE_SECONDS=10 go test ./internal/cli -run TestProfileProduce -count=1 \
//	    -cpuprofile /tmp/chronik-produce.prof
//	go tool pprof -top /tmp/chronik-produce.prof
//
// shows where the broker spends its CPU under that load.
// CHRONIK_PROFILE_DIR puts the data directory on a chosen disk (default: a
// temporary directory); CHRONIK_PROFILE_ARGS adds bench flags
// (e.g. "--record-size 100").
func TestProfileProduce(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("CHRONIK_PROFILE_SECONDS"))
	if secs <= 0 {
		t.Skip("set CHRONIK_PROFILE_SECONDS to run the profiling harness")
	}
	b, _ := startBroker(t, func(c *broker.Config) {
		if d := os.Getenv("CHRONIK_PROFILE_DIR"); d != "" {
			c.DataDir = d
		}
	})
	runChild(t, produceArgs(b.Addr(), secs)...)
}

func produceArgs(addr string, secs int) []string {
	args := []string{"bench", "produce", "--bootstrap", addr, "--topic", "profile", "--partitions", "6",
		"--record-size", "1024", "--acks", "all", "--idempotent", "--duration", strconv.Itoa(secs) + "s"}
	return append(args, strings.Fields(os.Getenv("CHRONIK_PROFILE_ARGS"))...)
}

// TestProfileConsume is TestProfileProduce's twin for the fetch path: it
// fills a topic like TestProfileProduce, then profiles only
// `chronik bench consume` of it, writing the CPU profile itself (the
// produce phase must not be in it) to CHRONIK_PROFILE_OUT (default
// /tmp/chronik-consume.prof). Do not pass -cpuprofile.
//
//	CHRONIK_PROFILE_SECONDS=10 go test ./internal/cli -run TestProfileConsume -count=1
//	go tool pprof -top /tmp/chronik-consume.prof
func TestProfileConsume(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("CHRONIK_PROFILE_SECONDS"))
	if secs <= 0 {
		t.Skip("set CHRONIK_PROFILE_SECONDS to run the profiling harness")
	}
	out := os.Getenv("CHRONIK_PROFILE_OUT")
	if out == "" {
		out = "/tmp/chronik-consume.prof"
	}
	b, _ := startBroker(t, func(c *broker.Config) {
		if d := os.Getenv("CHRONIK_PROFILE_DIR"); d != "" {
			c.DataDir = d
		}
	})
	runChild(t, produceArgs(b.Addr(), secs)...)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatalf("start the CPU profile (do not pass -cpuprofile): %v", err)
	}
	runChild(t, "bench", "consume", "--bootstrap", b.Addr(), "--topic", "profile")
	pprof.StopCPUProfile()
	t.Logf("CPU profile of the consume phase: %s", out)
}

// runChild runs the test binary as `chronik args...` and fails the test
// if it fails.
func runChild(t *testing.T, args ...string) {
	t.Helper()
	js, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(js))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	t.Logf("chronik %s (%v):\n%s%s", args[1], time.Since(start).Round(time.Millisecond), out.String(), lastLines(errb.String(), 3))
	if err != nil {
		t.Fatalf("chronik %s: %v", args[1], err)
	}
}

func lastLines(s string, n int) string {
	l := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "")
}
