package broker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/broker"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// groupConfig is a config for startWith with the group test settings.
func groupConfig(t testing.TB, dataDir string, fs vfs.FS) broker.Config {
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Logger = testLogger(t)
	cfg.FS = fs
	cfg.BrokerConfigs = map[string]string{
		"group.initial.rebalance.delay.ms": "50",
		"group.min.session.timeout.ms":     "1000",
	}
	return cfg
}

func startGroupWith(t testing.TB, cfg broker.Config) (*broker.Broker, string) {
	t.Helper()
	b, addr := startWith(t, cfg)
	t.Cleanup(func() { closeGroupBroker(b) })
	return b, addr
}

func TestGroupOffsetsSurviveRestart(t *testing.T) {
	t.Parallel()
	cfg := groupConfig(t, t.TempDir(), nil)
	b, addr := startGroupWith(t, cfg)
	createTopic(t, addr, "t", 4, nil)
	adm := kadm.NewClient(newFranz(t, addr))
	ctx := testCtx(t)
	want := map[string]map[string][]int64{}
	for g := range 3 {
		group := fmt.Sprintf("g%d", g)
		want[group] = map[string][]int64{"t": {int64(g), int64(g + 10), int64(g + 20), int64(g + 30)}}
		if err := adm.CommitAllOffsets(ctx, group, kadmOffsets(want[group])); err != nil {
			t.Fatal(err)
		}
	}
	// A consumer group, which keeps its protocol type.
	cons := startGroupConsumer(t, addr, "consumers", "t", kgo.DisableAutoCommit())
	waitStable(t, adm, "consumers", 1)
	produceSpread(t, newFranz(t, addr), "t", 4, "v", 40)
	groupWaitFor(t, "40 records", 30*time.Second, func() (bool, string) {
		return len(cons.snapshot()) == 40, fmt.Sprint(len(cons.snapshot()))
	})
	if err := cons.cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cons.close()

	closeGroupBroker(b)
	_, addr = startGroupWith(t, cfg)
	adm = kadm.NewClient(newFranz(t, addr))
	for group, w := range want {
		wantFetched(t, adm, group, w)
	}
	got, err := adm.FetchOffsets(testCtx(t), "consumers")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 4; p++ {
		if o, ok := got.Lookup("t", p); !ok || o.At != 10 {
			t.Fatalf("consumers/%d after restart: %+v", p, o)
		}
	}
	ds, err := adm.DescribeGroups(testCtx(t), "consumers")
	if err != nil || ds["consumers"].State != "Empty" || ds["consumers"].ProtocolType != "consumer" {
		t.Fatalf("consumer group after restart: %+v %v", ds["consumers"], err)
	}
	// A new member resumes after the commits.
	produceSpread(t, newFranz(t, addr), "t", 4, "w", 8)
	c2 := startGroupConsumer(t, addr, "consumers", "t", kgo.DisableAutoCommit())
	groupWaitFor(t, "8 new records", 30*time.Second, func() (bool, string) {
		return len(c2.snapshot()) >= 8, fmt.Sprint(len(c2.snapshot()))
	})
	for v := range c2.snapshot() {
		if v[0] != 'w' {
			t.Fatalf("the consumer after restart re-read %s", v)
		}
	}
}

// TestGroupOffsetsSurviveCrash commits from many clients at once and
// simulates a power cut after the acknowledgements: a broker started on
// what the crash left has every acknowledged commit.
func TestGroupOffsetsSurviveCrash(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMemFS()
	// The data directory itself exists durably, as on a real disk. (Since
	// broker.New creates it with a plain MkdirAll, a fresh directory's
	// entry would otherwise not survive the crash, taking everything.)
	if err := fs.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	cfg := groupConfig(t, "/data", fs)
	_, addr := startGroupWith(t, cfg)
	createTopic(t, addr, "t", 16, nil)
	var mu sync.Mutex
	want := map[string]map[string][]int64{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			adm := kadm.NewClient(newFranz(t, addr))
			group := fmt.Sprintf("g%d", g)
			for i := range 25 {
				os := map[string][]int64{"t": make([]int64, 16)}
				for p := range os["t"] {
					os["t"][p] = int64(i*100 + p + g)
				}
				if err := adm.CommitAllOffsets(testCtx(t), group, kadmOffsets(os)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[group] = os
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	crashed := fs.Crash()
	_, addr2 := startGroupWith(t, groupConfig(t, "/data", crashed))
	adm := kadm.NewClient(newFranz(t, addr2))
	for group, w := range want {
		wantFetched(t, adm, group, w)
	}
}
