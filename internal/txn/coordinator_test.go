package txn

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/records"
)

// env is a coordinator over real partition logs in a temp dir.
type env struct {
	t    *testing.T
	dir  string
	logs *klog.Manager
	c    *Coordinator

	mu         sync.Mutex
	nextPID    int64
	committed  map[string]map[TP]Offset
	failCommit bool
}

const topic = "t"

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), committed: map[string]map[TP]Offset{}}
	cfg := klog.DefaultConfig()
	logs, err := klog.OpenManager(filepath.Join(e.dir, "logs"), func(string) (klog.Config, bool) { return cfg, true }, klog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 2; p++ {
		if _, err := logs.Create(topic, p, cfg); err != nil {
			t.Fatal(err)
		}
	}
	e.logs = logs
	t.Cleanup(func() {
		if e.c != nil {
			e.c.Close()
		}
		logs.Close()
	})
	e.open(time.Hour)
	return e
}

func (e *env) open(abortInterval time.Duration) {
	e.t.Helper()
	c, err := Open(Config{
		Dir: filepath.Join(e.dir, "txn"),
		NextProducerID: func() (int64, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.nextPID++
			return e.nextPID, nil
		},
		Partition: func(topic string, partition int32) *klog.Partition { return e.logs.Partition(topic, partition) },
		CommitOffsets: func(group string, offs map[TP]Offset) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.failCommit {
				return errors.New("injected commit failure")
			}
			if e.committed[group] == nil {
				e.committed[group] = map[TP]Offset{}
			}
			for tp, o := range offs {
				e.committed[group][tp] = o
			}
			return nil
		},
		AbortInterval: abortInterval,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.c = c
}

func (e *env) reopen(abortInterval time.Duration) {
	e.t.Helper()
	if err := e.c.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.c = nil
	e.open(abortInterval)
}

// produce appends a transactional batch of n records for pe under a guard.
func (e *env) produce(pe ProducerIDAndEpoch, partition int32, seq int32, n int) error {
	e.t.Helper()
	g, err := e.c.BeginProduce(pe.ID, pe.Epoch)
	if err != nil {
		return err
	}
	defer g.Release()
	if !g.Contains(topic, partition) {
		return kerr.InvalidTxnState
	}
	recs := make([]records.Record, n)
	for i := range recs {
		recs[i] = records.Record{OffsetDelta: int32(i), Value: []byte("v")}
	}
	b, err := records.Build(records.BuildOptions{
		ProducerID: pe.ID, ProducerEpoch: pe.Epoch, BaseSequence: seq,
		Transactional: true, BaseTimestamp: time.Now().UnixMilli(),
	}, recs)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.logs.Partition(topic, partition).Append(b)
	if err != nil {
		return err
	}
	return e.logs.Partition(topic, partition).WaitDurable(e.t.Context(), res.LastOffset)
}

func (e *env) lso(partition int32) int64 {
	return e.logs.Partition(topic, partition).LastStableOffset()
}

func (e *env) hw(partition int32) int64 {
	_, hw, _ := e.logs.Partition(topic, partition).Offsets()
	return hw
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func TestInitProducerIDBumpsEpoch(t *testing.T) {
	e := newEnv(t)
	a, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	if a.Epoch != 0 {
		t.Fatalf("first epoch %d, want 0", a.Epoch)
	}
	b, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	if b.ID != a.ID || b.Epoch != 1 {
		t.Fatalf("second init %+v, want id %d epoch 1", b, a.ID)
	}
	_, err = e.c.InitProducerID("x", time.Hour, ProducerIDAndEpoch{-1, -1})
	wantErr(t, err, kerr.InvalidTransactionTimeout)
	// KIP-360: a retry of the bump that made b (its answer lost) gets b.
	r, err := e.c.InitProducerID("x", time.Minute, a)
	must(t, err)
	if r != b {
		t.Fatalf("retried init %+v, want %+v", r, b)
	}
	c, err := e.c.InitProducerID("x", time.Minute, b)
	must(t, err)
	if c.Epoch != 2 {
		t.Fatalf("KIP-360 init %+v, want epoch 2", c)
	}
	// A producer that no longer owns the id is fenced.
	_, err = e.c.InitProducerID("x", time.Minute, a)
	wantErr(t, err, kerr.ProducerFenced)
	e.reopen(time.Hour)
	d, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	if d.ID != a.ID || d.Epoch != 3 {
		t.Fatalf("init after reopen %+v, want id %d epoch 3", d, a.ID)
	}
}

func TestCommitAndAbort(t *testing.T) {
	e := newEnv(t)
	pe, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	// Not added yet: refused.
	wantErr(t, e.produce(pe, 0, 0, 1), kerr.InvalidTxnState)
	must(t, e.c.AddPartitions("x", pe.ID, pe.Epoch, []TP{{topic, 0}, {topic, 1}}))
	must(t, e.produce(pe, 0, 0, 3))
	must(t, e.produce(pe, 1, 0, 2))
	if e.lso(0) != 0 || e.lso(1) != 0 {
		t.Fatalf("LSO %d/%d during the transaction, want 0/0", e.lso(0), e.lso(1))
	}
	must(t, e.c.AddOffsets("x", pe.ID, pe.Epoch, "g"))
	must(t, e.c.CommitOffsets("x", pe.ID, pe.Epoch, "g", []TP{{"in", 0}}, []Offset{{Offset: 42, LeaderEpoch: -1}}, false))
	if !e.c.HasPendingOffsets("g", "in", 0) {
		t.Fatal("pending offset not reported")
	}
	must(t, endV1(e.c, "x", pe.ID, pe.Epoch, true))
	if e.hw(0) != 4 || e.lso(0) != 4 || e.hw(1) != 3 || e.lso(1) != 3 {
		t.Fatalf("after commit HW/LSO %d/%d %d/%d, want 4/4 3/3", e.hw(0), e.lso(0), e.hw(1), e.lso(1))
	}
	if got := e.committed["g"][TP{"in", 0}].Offset; got != 42 {
		t.Fatalf("committed offset %d, want 42", got)
	}
	if e.c.HasPendingOffsets("g", "in", 0) {
		t.Fatal("offset still pending after commit")
	}
	// A retry of the same end succeeds; the other outcome does not.
	must(t, endV1(e.c, "x", pe.ID, pe.Epoch, true))
	wantErr(t, endV1(e.c, "x", pe.ID, pe.Epoch, false), kerr.InvalidTxnState)

	// The next transaction, aborted.
	must(t, e.c.AddPartitions("x", pe.ID, pe.Epoch, []TP{{topic, 0}}))
	must(t, e.produce(pe, 0, 3, 2))
	must(t, e.c.AddOffsets("x", pe.ID, pe.Epoch, "g"))
	must(t, e.c.CommitOffsets("x", pe.ID, pe.Epoch, "g", []TP{{"in", 0}}, []Offset{{Offset: 99, LeaderEpoch: -1}}, false))
	must(t, endV1(e.c, "x", pe.ID, pe.Epoch, false))
	if got := e.committed["g"][TP{"in", 0}].Offset; got != 42 {
		t.Fatalf("aborted offset became visible: %d", got)
	}
	p := e.logs.Partition(topic, 0)
	ab := p.AbortedTxns(0, 100)
	if len(ab) != 1 || ab[0].ProducerID != pe.ID || ab[0].FirstOffset != 4 || ab[0].LastOffset != 6 {
		t.Fatalf("aborted transactions %+v, want one of producer %d at [4, 6]", ab, pe.ID)
	}
	d, ok := e.c.Describe("x")
	if !ok || d.State != CompleteAbort || d.StartMs != -1 {
		t.Fatalf("describe %+v", d)
	}
	wantErr(t, endV1(e.c, "x", pe.ID, pe.Epoch, true), kerr.InvalidTxnState)
}

func TestFencing(t *testing.T) {
	e := newEnv(t)
	old, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	must(t, e.c.AddPartitions("x", old.ID, old.Epoch, []TP{{topic, 0}}))
	must(t, e.produce(old, 0, 0, 2))

	// A new producer with the same id: the old transaction is aborted.
	nw, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	if nw.ID != old.ID || nw.Epoch != old.Epoch+2 {
		t.Fatalf("new producer %+v, want id %d epoch %d", nw, old.ID, old.Epoch+2)
	}
	if e.lso(0) != e.hw(0) {
		t.Fatalf("LSO %d behind HW %d after the fenced transaction was aborted", e.lso(0), e.hw(0))
	}
	if ab := e.logs.Partition(topic, 0).AbortedTxns(0, 100); len(ab) != 1 {
		t.Fatalf("aborted transactions %+v, want the fenced one", ab)
	}
	wantErr(t, e.c.AddPartitions("x", old.ID, old.Epoch, []TP{{topic, 1}}), kerr.ProducerFenced)
	wantErr(t, endV1(e.c, "x", old.ID, old.Epoch, true), kerr.ProducerFenced)
	_, err = e.c.BeginProduce(old.ID, old.Epoch)
	wantErr(t, err, kerr.InvalidProducerEpoch)
	wantErr(t, e.c.CommitOffsets("x", old.ID, old.Epoch, "g", []TP{{"in", 0}}, []Offset{{Offset: 1}}, false), kerr.InvalidProducerEpoch)
	// The partition itself refuses the old epoch too.
	b, _ := records.Build(records.BuildOptions{ProducerID: old.ID, ProducerEpoch: old.Epoch, BaseSequence: 2, Transactional: true, BaseTimestamp: time.Now().UnixMilli()},
		[]records.Record{{Value: []byte("late")}})
	if _, err := e.logs.Partition(topic, 0).Append(b); !errors.Is(err, klog.ErrInvalidProducerEpoch) {
		t.Fatalf("append with the fenced epoch: %v", err)
	}
}

func TestTimeoutAborts(t *testing.T) {
	e := newEnv(t)
	e.reopen(10 * time.Millisecond)
	pe, err := e.c.InitProducerID("x", 50*time.Millisecond, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	must(t, e.c.AddPartitions("x", pe.ID, pe.Epoch, []TP{{topic, 0}}))
	must(t, e.produce(pe, 0, 0, 1))
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, _ := e.c.Describe("x")
		if d.State == CompleteAbort {
			if d.Epoch != pe.Epoch+1 {
				t.Fatalf("epoch after the timeout %d, want %d", d.Epoch, pe.Epoch+1)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction not aborted after its timeout: %+v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if e.lso(0) != e.hw(0) {
		t.Fatalf("LSO %d behind HW %d after the timeout", e.lso(0), e.hw(0))
	}
	wantErr(t, endV1(e.c, "x", pe.ID, pe.Epoch, true), kerr.ProducerFenced)
	// KIP-360: the timed-out producer may re-initialize with its old epoch.
	next, err := e.c.InitProducerID("x", time.Minute, pe)
	must(t, err)
	if next.Epoch != pe.Epoch+2 {
		t.Fatalf("re-init %+v", next)
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	e := newEnv(t)
	pe, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	must(t, e.c.AddPartitions("x", pe.ID, pe.Epoch, []TP{{topic, 1}}))
	must(t, e.produce(pe, 1, 0, 2))
	must(t, e.c.AddOffsets("x", pe.ID, pe.Epoch, "g"))
	must(t, e.c.CommitOffsets("x", pe.ID, pe.Epoch, "g", []TP{{"in", 3}}, []Offset{{Offset: 7, LeaderEpoch: -1, Metadata: "m"}}, false))
	e.reopen(time.Hour)
	d, ok := e.c.Describe("x")
	if !ok || d.State != Ongoing || len(d.Partitions) != 1 || d.PID != pe.ID || d.Epoch != pe.Epoch {
		t.Fatalf("after reopen %+v", d)
	}
	must(t, endV1(e.c, "x", pe.ID, pe.Epoch, true))
	if o := e.committed["g"][TP{"in", 3}]; o.Offset != 7 || o.Metadata != "m" {
		t.Fatalf("committed %+v", o)
	}
}

// A failure after the decision (here: committing the offsets) leaves the
// transaction PrepareCommit; the next Open finishes it.
func TestPreparedTransactionFinishedAtOpen(t *testing.T) {
	e := newEnv(t)
	pe, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	must(t, e.c.AddPartitions("x", pe.ID, pe.Epoch, []TP{{topic, 0}}))
	must(t, e.produce(pe, 0, 0, 2))
	must(t, e.c.AddOffsets("x", pe.ID, pe.Epoch, "g"))
	must(t, e.c.CommitOffsets("x", pe.ID, pe.Epoch, "g", []TP{{"in", 0}}, []Offset{{Offset: 5, LeaderEpoch: -1}}, false))
	e.failCommit = true
	wantErr(t, endV1(e.c, "x", pe.ID, pe.Epoch, true), kerr.ConcurrentTransactions)
	if d, _ := e.c.Describe("x"); d.State != PrepareCommit {
		t.Fatalf("state %v, want PrepareCommit", d.State)
	}
	e.failCommit = false
	e.reopen(time.Hour)
	if d, _ := e.c.Describe("x"); d.State != CompleteCommit {
		t.Fatalf("state after reopen %v, want CompleteCommit", d.State)
	}
	if e.committed["g"][TP{"in", 0}].Offset != 5 {
		t.Fatal("offsets of the prepared commit not committed at open")
	}
	if e.lso(0) != e.hw(0) {
		t.Fatalf("LSO %d behind HW %d", e.lso(0), e.hw(0))
	}
	must(t, endV1(e.c, "x", pe.ID, pe.Epoch, true)) // the client's retry
}

func TestListAndDescribe(t *testing.T) {
	e := newEnv(t)
	a, err := e.c.InitProducerID("a", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	_, err = e.c.InitProducerID("b", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	must(t, e.c.AddPartitions("a", a.ID, a.Epoch, []TP{{topic, 0}}))
	if got := e.c.List(ListFilter{}); len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Fatalf("list %+v", got)
	}
	if got := e.c.List(ListFilter{States: []string{"Ongoing"}}); len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("list Ongoing %+v", got)
	}
	if got := e.c.List(ListFilter{PIDs: []int64{a.ID}}); len(got) != 1 || got[0].PID != a.ID {
		t.Fatalf("list by pid %+v", got)
	}
	if got := e.c.List(ListFilter{MinDuration: time.Hour}); len(got) != 0 {
		t.Fatalf("list by duration %+v", got)
	}
	d, ok := e.c.Describe("a")
	if !ok || d.State != Ongoing || d.StartMs <= 0 || len(d.Partitions) != 1 {
		t.Fatalf("describe %+v", d)
	}
	if _, ok := e.c.Describe("nope"); ok {
		t.Fatal("unknown id described")
	}
	if err := e.c.AddPartitions("nope", 1, 0, nil); !errors.Is(err, kerr.InvalidProducerIDMapping) {
		t.Fatalf("unknown id: %v", err)
	}
}

// endV1 is EndTxn as a transaction version 1 client sends it.
func endV1(c *Coordinator, id string, pid int64, epoch int16, commit bool) error {
	_, err := c.EndTxn(id, pid, epoch, commit, false)
	return err
}

// Transaction version 2 (KIP-890 part 2): the epoch bumps as each
// transaction ends, markers carry the new epoch, retries of a completed end
// get the same answer, an abort with nothing open bumps too, and offsets
// may be committed without AddOffsets.
func TestTransactionVersion2(t *testing.T) {
	e := newEnv(t)
	pe, err := e.c.InitProducerID("x", time.Minute, ProducerIDAndEpoch{-1, -1})
	must(t, err)
	must(t, e.c.AddPartitions("x", pe.ID, pe.Epoch, []TP{{topic, 0}}))
	must(t, e.produce(pe, 0, 0, 2))
	must(t, e.c.CommitOffsets("x", pe.ID, pe.Epoch, "g", []TP{{"in", 0}}, []Offset{{Offset: 3, LeaderEpoch: -1}}, true))
	next, err := e.c.EndTxn("x", pe.ID, pe.Epoch, true, true)
	must(t, err)
	if next.ID != pe.ID || next.Epoch != pe.Epoch+1 {
		t.Fatalf("after a v2 commit %+v, want epoch %d", next, pe.Epoch+1)
	}
	if e.committed["g"][TP{"in", 0}].Offset != 3 {
		t.Fatal("implicitly added group's offset not committed")
	}
	// The retry of that end, with the old epoch, gets the same answer.
	again, err := e.c.EndTxn("x", pe.ID, pe.Epoch, true, true)
	if err != nil || again != next {
		t.Fatalf("retried end: %+v %v, want %+v", again, err, next)
	}
	if _, err := e.c.EndTxn("x", pe.ID, pe.Epoch, false, true); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("old epoch, other outcome: %v", err)
	}
	if _, err := e.c.EndTxn("x", pe.ID, pe.Epoch-1, true, true); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("an older epoch: %v", err)
	}
	// The marker carried the new epoch: the old one is fenced on the log.
	b, _ := records.Build(records.BuildOptions{ProducerID: pe.ID, ProducerEpoch: pe.Epoch, BaseSequence: 2, Transactional: true, BaseTimestamp: time.Now().UnixMilli()},
		[]records.Record{{Value: []byte("late")}})
	if _, err := e.logs.Partition(topic, 0).Append(b); !errors.Is(err, klog.ErrInvalidProducerEpoch) {
		t.Fatalf("a late batch of the ended transaction: %v", err)
	}
	// The next transaction starts at sequence 0 of the new epoch.
	must(t, e.c.AddPartitions("x", next.ID, next.Epoch, []TP{{topic, 0}}))
	must(t, e.produce(next, 0, 0, 1))
	third, err := e.c.EndTxn("x", next.ID, next.Epoch, false, true)
	must(t, err)
	if third.Epoch != next.Epoch+1 || e.lso(0) != e.hw(0) {
		t.Fatalf("after a v2 abort %+v, LSO %d HW %d", third, e.lso(0), e.hw(0))
	}
	// An abort with nothing open succeeds and bumps; a commit does not.
	fourth, err := e.c.EndTxn("x", third.ID, third.Epoch, false, true)
	must(t, err)
	if fourth.Epoch != third.Epoch+1 {
		t.Fatalf("empty abort %+v", fourth)
	}
	if _, err := e.c.EndTxn("x", fourth.ID, fourth.Epoch, true, true); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("empty commit: %v", err)
	}
}
