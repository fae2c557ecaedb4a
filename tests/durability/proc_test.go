package durability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The chronik binary is built once per test process, on first use.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// chronikBinary returns the path of a freshly built cmd/chronik. Under -race
// the binary is built with -race as well.
func chronikBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "chronik-durability-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "chronik")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/chronik-stream/chronik/cmd/chronik")
		cmd := exec.Command("go", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("building chronik: %v", binErr)
	}
	return binPath
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// brokerProc is one chronik process at a time on a fixed port and data
// directory; start after kill or term brings up the next one. Every
// process's stderr goes to one log file, shown on failure.
type brokerProc struct {
	t       testing.TB
	bin     string
	port    int
	dataDir string
	logPath string
	logf    *os.File

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has been reaped
	waitErr error
	starts  int
}

func newBrokerProc(t testing.TB) *brokerProc {
	t.Helper()
	dir := t.TempDir()
	p := &brokerProc{
		t:       t,
		bin:     chronikBinary(t),
		port:    freePort(t),
		dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "broker.log"),
	}
	f, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.logf = f
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.exited
		}
		p.logf.Close()
		if t.Failed() || os.Getenv("CHRONIK_TEST_SHOWLOG") != "" {
			p.dumpLog()
		}
	})
	return p
}

func (p *brokerProc) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

func (p *brokerProc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// start launches the broker and waits until it accepts connections, which
// it does only after recovery has finished.
func (p *brokerProc) start() {
	p.t.Helper()
	if p.running() {
		p.t.Fatal("start: the broker is already running")
	}
	p.starts++
	fmt.Fprintf(p.logf, "===== start #%d at %s =====\n", p.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, "start",
		"--kafka-port", strconv.Itoa(p.port),
		"--metrics-port", "0",
		"--data-dir", p.dataDir,
		"--bind-addr", "127.0.0.1",
	)
	if os.Getenv("CHRONIK_TEST_DEBUG") != "" {
		cmd.Args = append(cmd.Args, "--log-level", "debug")
	}
	// Our flags only: no CHRONIK_* from the environment running the tests.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHRONIK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout = p.logf
	cmd.Stderr = p.logf
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting chronik: %v", err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			p.t.Fatalf("chronik start #%d exited before listening: %v", p.starts, p.exitErr())
		default:
		}
		nc, err := net.DialTimeout("tcp", p.addr(), 200*time.Millisecond)
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("chronik start #%d is not listening on %s after 30s: %v", p.starts, p.addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *brokerProc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// kill sends SIGKILL and waits until the process is gone.
func (p *brokerProc) kill() {
	p.t.Helper()
	if !p.running() {
		p.t.Fatalf("kill: the broker is not running (exit: %v)", p.exitErr())
	}
	fmt.Fprintf(p.logf, "===== SIGKILL at %s =====\n", time.Now().Format(time.RFC3339Nano))
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("SIGKILL: %v", err)
	}
	<-p.exited
}

// term sends SIGTERM and waits up to timeout for the process to exit; it
// returns the exit code and how long the shutdown took.
func (p *brokerProc) term(timeout time.Duration) (int, time.Duration) {
	p.t.Helper()
	if !p.running() {
		p.t.Fatalf("term: the broker is not running (exit: %v)", p.exitErr())
	}
	fmt.Fprintf(p.logf, "===== SIGTERM at %s =====\n", time.Now().Format(time.RFC3339Nano))
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		p.t.Fatalf("chronik did not exit within %v of SIGTERM", timeout)
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(start)
}

func (p *brokerProc) log() []byte {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return []byte(fmt.Sprintf("(reading %s: %v)", p.logPath, err))
	}
	return b
}

// dumpLog shows the broker's stderr (the last 64 KiB of it).
func (p *brokerProc) dumpLog() {
	b := p.log()
	if len(b) > 64<<10 {
		b = append([]byte("…\n"), b[len(b)-64<<10:]...)
	}
	p.t.Logf("broker stderr (%s):\n%s", p.logPath, b)
}

// checkLog fails the test on a data race or panic reported by any of the
// processes.
func (p *brokerProc) checkLog() {
	p.t.Helper()
	b := p.log()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if bytes.Contains(b, []byte(bad)) {
			p.t.Errorf("broker stderr contains %q", bad)
		}
	}
}

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(addr)}
	if os.Getenv("CHRONIK_TEST_DEBUG") != "" {
		base = append(base, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, func() string {
			return time.Now().Format("15:04:05.000 ")
		})))
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr))
	resp, err := adm.CreateTopics(ctx, partitions, 1, configs, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatalf("creating %s: %v", topic, err)
	}
}

// logRecord is what the checks need of a consumed record.
type logRecord struct {
	Offset int64
	Value  string
}

// consumeAll reads every partition of topic from its start to its high
// watermark (as ListOffsets reports it now) and returns the records by
// partition, in log order.
func consumeAll(t testing.TB, addr, topic string, partitions int32) (map[int32][]logRecord, map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListStartOffsets: %v", err)
	}
	hw := make(map[int32]int64)
	offs := make(map[int32]kgo.Offset)
	for p := range partitions {
		e, ok := ends.Lookup(topic, p)
		if !ok || e.Err != nil {
			t.Fatalf("end offset of %s/%d: %v (found %v)", topic, p, e.Err, ok)
		}
		s, ok := starts.Lookup(topic, p)
		if !ok || s.Err != nil {
			t.Fatalf("start offset of %s/%d: %v (found %v)", topic, p, s.Err, ok)
		}
		if s.Offset != 0 {
			t.Errorf("%s/%d: log start offset %d, want 0 (nothing was deleted)", topic, p, s.Offset)
		}
		hw[p] = e.Offset
		offs[p] = kgo.NewOffset().AtStart()
	}
	cl := newClient(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxBytes(32<<20), kgo.FetchMaxPartitionBytes(8<<20))
	out := make(map[int32][]logRecord)
	done := func() bool {
		for p := range partitions {
			rs := out[p]
			if int64(len(rs)) < hw[p] && (len(rs) == 0 || rs[len(rs)-1].Offset < hw[p]-1) {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			got := make(map[int32]int)
			for p, rs := range out {
				got[p] = len(rs)
			}
			t.Fatalf("consuming %s: records by partition %v, high watermarks %v: %v", topic, got, hw, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], logRecord{r.Offset, string(r.Value)})
		})
	}
	return out, hw
}
