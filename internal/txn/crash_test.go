package txn

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// crashEnv is a coordinator and two partitions on one MemFS.
type crashEnv struct {
	fs   *vfs.MemFS
	logs *klog.Manager
	c    *Coordinator
	pid  atomic.Int64
}

func openCrashEnv(t *testing.T, fs *vfs.MemFS) *crashEnv {
	t.Helper()
	e := &crashEnv{fs: fs}
	e.pid.Store(time.Now().UnixNano() % 1000 * 1000) // ids differ across incarnations
	cfg := klog.DefaultConfig()
	cfg.SegmentBytes = 2048
	logs, err := klog.OpenManager("/data/logs", func(string) (klog.Config, bool) { return cfg, true }, klog.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 2; p++ {
		if _, err := logs.Create(topic, p, cfg); err != nil {
			t.Fatal(err)
		}
	}
	e.logs = logs
	c, err := Open(Config{
		Dir:            "/data/txn",
		FS:             fs,
		NextProducerID: func() (int64, error) { return e.pid.Add(1), nil },
		Partition:      func(topic string, partition int32) *klog.Partition { return logs.Partition(topic, partition) },
		CommitOffsets:  func(string, map[TP]Offset) error { return nil },
		AbortInterval:  time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

func (e *crashEnv) close() {
	e.c.Close()
	e.logs.Close()
}

// txnRun is one transaction the test ran.
type txnRun struct {
	pid    int64
	first  [2]int64 // first offset of its data on each partition
	commit bool
	acked  bool // EndTxn answered success
}

// TestCrashDuringTransactions fails the disk at a random fsync while
// transactions run (inside EndTxn or anywhere else), takes what a power
// loss would leave, and restarts: every transaction must then be
// all-or-nothing across its partitions, those whose EndTxn succeeded must
// have the outcome asked for, and no partition may keep a transaction open
// once the coordinator has aborted what was left ongoing.
func TestCrashDuringTransactions(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		fs := vfs.NewMemFS()
		e := openCrashEnv(t, fs)
		var syncs atomic.Int64
		failAt := int64(5 + rng.IntN(60))
		var dead atomic.Bool
		fs.SetHook(func(op vfs.Op, path string) error {
			if dead.Load() {
				return errors.New("injected: disk gone")
			}
			if op == vfs.OpSync && syncs.Add(1) >= failAt {
				dead.Store(true)
				return errors.New("injected EIO")
			}
			return nil
		})

		var runs []*txnRun
		pe, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
		if err != nil {
			e.close()
			continue // the disk failed before the first transaction
		}
		seq := [2]int32{}
	loop:
		for i := 0; i < 10; i++ {
			run := &txnRun{pid: pe.ID, commit: rng.IntN(2) == 0}
			if err := e.c.AddPartitions("x", pe.ID, pe.Epoch, []TP{{topic, 0}, {topic, 1}}); err != nil {
				break
			}
			for p := int32(0); p < 2; p++ {
				g, err := e.c.BeginProduce(pe.ID, pe.Epoch)
				if err != nil {
					break loop
				}
				b, _ := records.Build(records.BuildOptions{ProducerID: pe.ID, ProducerEpoch: pe.Epoch, BaseSequence: seq[p], Transactional: true, BaseTimestamp: time.Now().UnixMilli()},
					[]records.Record{{Value: []byte("v")}, {OffsetDelta: 1, Value: []byte("w")}})
				res, err := e.logs.Partition(topic, p).Append(b)
				g.Release()
				if err != nil {
					break loop
				}
				seq[p] += 2
				run.first[p] = res.BaseOffset
			}
			runs = append(runs, run)
			run.acked = endV1(e.c, "x", pe.ID, pe.Epoch, run.commit) == nil
			if !run.acked {
				break
			}
		}
		dead.Store(true)
		crashed := fs.Crash()
		e.close()

		e = openCrashEnv(t, crashed)
		// What was left ongoing is aborted when it times out.
		if d, ok := e.c.Describe("x"); ok && d.State == Ongoing {
			e.c.mu.Lock()
			e.c.txns["x"].TimeoutMs = 0
			e.c.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			e.c.sweep()
		}
		for p := int32(0); p < 2; p++ {
			part := e.logs.Partition(topic, p)
			_, hw, _ := part.Offsets()
			if lso := part.LastStableOffset(); lso != hw {
				t.Fatalf("seed %d partition %d: LSO %d behind HW %d after recovery", seed, p, lso, hw)
			}
		}
		for i, run := range runs {
			var aborted [2]bool
			var present [2]bool
			for p := int32(0); p < 2; p++ {
				part := e.logs.Partition(topic, p)
				present[p] = hasData(t, part, run.first[p], run.pid)
				for _, a := range part.AbortedTxns(run.first[p], run.first[p]+1) {
					if a.ProducerID == run.pid && a.FirstOffset == run.first[p] {
						aborted[p] = true
					}
				}
			}
			if run.acked {
				if !present[0] || !present[1] {
					t.Fatalf("seed %d txn %d: acknowledged end but data lost (%v)", seed, i, present)
				}
				if aborted[0] == run.commit || aborted[1] == run.commit {
					t.Fatalf("seed %d txn %d: commit=%v acknowledged, aborted on partitions %v", seed, i, run.commit, aborted)
				}
			}
			if present[0] && present[1] && aborted[0] != aborted[1] {
				t.Fatalf("seed %d txn %d: not atomic: aborted on partitions %v", seed, i, aborted)
			}
		}
		e.close()
	}
}

// hasData reports whether the partition holds a data batch of pid at off.
func hasData(t *testing.T, p *klog.Partition, off, pid int64) bool {
	t.Helper()
	_, hw, _ := p.Offsets()
	if off >= hw {
		return false
	}
	res, err := p.Read(off, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	h, err := records.ParseHeader(res.Records)
	return err == nil && h.BaseOffset == off && h.ProducerID == pid && !h.IsControl()
}

// A change whose state-log write fails is undone in memory: the coordinator
// never acts (markers, answers) on a state the log does not have.
func TestFailedWriteUndone(t *testing.T) {
	fs := vfs.NewMemFS()
	e := openCrashEnv(t, fs)
	defer e.close()
	pe, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	if err != nil {
		t.Fatal(err)
	}
	fs.SetHook(func(op vfs.Op, path string) error {
		if (op == vfs.OpWrite || op == vfs.OpSync) && strings.Contains(path, stateTopic) {
			return errors.New("injected EIO")
		}
		return nil
	})
	if err := e.c.AddPartitions("x", pe.ID, pe.Epoch, []TP{{topic, 0}}); err == nil {
		t.Fatal("AddPartitions succeeded without its write")
	}
	d, _ := e.c.Describe("x")
	if d.State != Empty || len(d.Partitions) != 0 || d.Epoch != pe.Epoch {
		t.Fatalf("after a failed write: %+v, want the persisted Empty state", d)
	}
	if _, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1}); err == nil {
		t.Fatal("InitProducerId succeeded without its write")
	}
	if d, _ := e.c.Describe("x"); d.Epoch != pe.Epoch {
		t.Fatalf("epoch %d after a failed bump, want %d", d.Epoch, pe.Epoch)
	}
}
