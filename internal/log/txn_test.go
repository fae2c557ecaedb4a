package log

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

func txnBatch(pid int64, epoch int16, seq int32, n int) []byte {
	return makeBatch(batchSpec{records: n, idempotent: true, pid: pid, epoch: epoch, seq: seq, attrs: records.TransactionalBit, valueSize: 20})
}

func markerWait(t *testing.T, p *Partition, pid int64, epoch int16, commit bool) int64 {
	t.Helper()
	off, err := p.AppendMarker(pid, epoch, commit, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitDurable(ctx, off); err != nil {
		t.Fatal(err)
	}
	return off
}

func TestTxnLSOAndAborted(t *testing.T) {
	p := openTest(t, t.TempDir(), Config{SegmentBytes: 700}, Options{})
	appendWait(t, p, makeBatch(batchSpec{records: 2})) // 0-1, plain
	a := appendWait(t, p, txnBatch(7, 0, 0, 3))        // 2-4, producer 7's transaction
	appendWait(t, p, makeBatch(batchSpec{records: 1})) // 5
	if got := p.LastStableOffset(); got != a.BaseOffset {
		t.Fatalf("LSO %d during the transaction, want %d", got, a.BaseOffset)
	}
	// A non-transactional batch of a producer with a transaction open.
	if _, err := p.Append(makeBatch(batchSpec{idempotent: true, pid: 7, epoch: 0, seq: 3})); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("plain batch inside a transaction: %v", err)
	}
	res, err := p.ReadCommittedInto(nil, 0, 1<<20, true)
	must(t, err)
	if n := countRecords(t, res.Records); n != 2 || res.LastStableOffset != 2 {
		t.Fatalf("read committed during the transaction: %d records, LSO %d", n, res.LastStableOffset)
	}
	abort := markerWait(t, p, 7, 0, false) // 6
	_, hw, _ := p.Offsets()
	if got := p.LastStableOffset(); got != hw {
		t.Fatalf("LSO %d after the abort, want the HW %d", got, hw)
	}
	want := []AbortedTxn{{ProducerID: 7, FirstOffset: 2, LastOffset: abort}}
	if got := p.AbortedTxns(0, hw); !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted %+v, want %+v", got, want)
	}
	if got := p.AbortedTxns(abort+1, hw+10); len(got) != 0 {
		t.Fatalf("aborted after the marker: %+v", got)
	}
	res, err = p.ReadCommittedInto(nil, 0, 1<<20, true)
	must(t, err)
	if !reflect.DeepEqual(res.Aborted, want) {
		t.Fatalf("read committed aborted list %+v, want %+v", res.Aborted, want)
	}
	// The next transaction commits; an old epoch cannot end it.
	b := appendWait(t, p, txnBatch(7, 0, 3, 2))
	if _, err := p.AppendMarker(7, -1, true, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker with an old epoch: %v", err)
	}
	if got := p.LastStableOffset(); got != b.BaseOffset {
		t.Fatalf("LSO %d, want %d", got, b.BaseOffset)
	}
	markerWait(t, p, 7, 0, true)
	if infos := p.Producers(); len(infos) != 1 || infos[0].CurrentTxnStartOffset != -1 {
		t.Fatalf("producers %+v", infos)
	}
	// A transaction left open across a clean restart.
	c := appendWait(t, p, txnBatch(7, 0, 5, 1))
	dir := p.Dir()
	must(t, p.Close())
	p = openTest(t, dir, Config{SegmentBytes: 700}, Options{})
	if got := p.LastStableOffset(); got != c.BaseOffset {
		t.Fatalf("LSO after restart %d, want %d", got, c.BaseOffset)
	}
	if got := p.AbortedTxns(0, 1<<20); !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted after restart %+v, want %+v", got, want)
	}
	// A marker with a newer epoch (a fence) ends it and resets sequences.
	markerWait(t, p, 7, 1, false)
	if _, err := p.Append(txnBatch(7, 0, 6, 1)); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("batch of the fenced epoch: %v", err)
	}
	if _, err := p.Append(txnBatch(7, 1, 3, 1)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("new epoch not starting at 0: %v", err)
	}
	// Clients may not write control batches.
	if _, err := p.Append(makeBatch(batchSpec{attrs: records.ControlBit | records.TransactionalBit, idempotent: true, pid: 9})); !errors.Is(err, records.ErrControlBatch) {
		t.Fatalf("control batch from a client: %v", err)
	}
}

func countRecords(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	must(t, records.Split(b, func(h records.Header, _ []byte) error {
		if !h.IsControl() {
			n += int(h.LastOffsetDelta) + 1
		}
		return nil
	}))
	return n
}

// txnModel derives, from every batch of a recovered log, what the
// transaction state must be: the open transactions (producer id -> first
// offset) and the aborted ones by first offset. It reads the markers with
// records.ParseEndTxnMarker and shares no code with recovery.
func txnModel(t *testing.T, p *Partition) (ongoing map[int64]int64, aborted []AbortedTxn) {
	t.Helper()
	ongoing = map[int64]int64{}
	p.vmu.RLock()
	segs := p.segs
	p.vmu.RUnlock()
	for _, s := range segs {
		r := newBatchReader(s.log, 0, s.size.Load())
		for {
			b, _, err := r.next()
			if err == io.EOF {
				break
			}
			must(t, err)
			h, err := records.ParseHeader(b)
			must(t, err)
			if !h.IsTransactional() {
				continue
			}
			first, open := ongoing[h.ProducerID]
			if !h.IsControl() {
				if !open {
					ongoing[h.ProducerID] = h.BaseOffset
				}
				continue
			}
			m, err := records.ParseEndTxnMarker(b)
			must(t, err)
			if open {
				delete(ongoing, h.ProducerID)
				if !m.Commit {
					aborted = append(aborted, AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset})
				}
			}
		}
	}
	slices.SortStableFunc(aborted, func(a, b AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	return ongoing, aborted
}

// checkTxnState asserts that p's transaction state is what its log implies.
func checkTxnState(t *testing.T, p *Partition, what string) {
	t.Helper()
	ongoing, aborted := txnModel(t, p)
	p.vmu.RLock()
	got := maps.Clone(p.txv.ongoing)
	p.vmu.RUnlock()
	if !maps.Equal(got, ongoing) {
		t.Fatalf("%s: open transactions %v, the log implies %v", what, got, ongoing)
	}
	if got := p.AbortedTxns(0, math.MaxInt64); !(len(got) == 0 && len(aborted) == 0) && !reflect.DeepEqual(got, aborted) {
		t.Fatalf("%s: aborted %+v, the log implies %+v", what, got, aborted)
	}
	ls, hw, _ := p.Offsets()
	lso := hw
	for _, f := range ongoing {
		lso = min(lso, f)
	}
	lso = max(lso, ls)
	if got := p.LastStableOffset(); got != lso {
		t.Fatalf("%s: LSO %d, want %d", what, got, lso)
	}
	for _, pi := range p.Producers() {
		want, ok := ongoing[pi.ProducerID]
		if !ok {
			want = -1
		}
		if pi.CurrentTxnStartOffset != want {
			t.Fatalf("%s: producer %d: CurrentTxnStartOffset %d, want %d", what, pi.ProducerID, pi.CurrentTxnStartOffset, want)
		}
	}
}

// txnProducers writes the transactions of several producers to a
// partition, keeping each one's next sequence and whether it has a
// transaction open.
type txnProducers struct {
	seqs map[int64]int32
	open map[int64]bool
}

func newTxnProducers() *txnProducers {
	return &txnProducers{seqs: map[int64]int32{}, open: map[int64]bool{}}
}

// data appends n records of pid's transaction (opening it if need be).
func (tp *txnProducers) data(p *Partition, pid int64, n int) error {
	_, err := p.Append(txnBatch(pid, 0, tp.seqs[pid], n))
	tp.seqs[pid] += int32(n)
	tp.open[pid] = true
	return err
}

// end appends the marker that commits or aborts pid's transaction.
func (tp *txnProducers) end(p *Partition, pid int64, commit bool) error {
	_, err := p.AppendMarker(pid, 0, commit, 0)
	tp.open[pid] = false
	return err
}

// TestTxnPowerLoss runs transactions of a few producers, crashes the
// filesystem at a random point, and checks that the recovered transaction
// state (open transactions, LSO, aborted list) is exactly what the
// surviving log implies, twice (the second time after more work).
func TestTxnPowerLoss(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		fs := vfs.NewMemFS()
		cfg := Config{SegmentBytes: int64(400 + rng.IntN(1500))}
		opts := Options{FS: fs, Logger: testLogger(t)}
		dir := "/data/t-0"
		p, err := Open(dir, "t", 0, cfg, opts)
		must(t, err)
		var crashed *vfs.MemFS
		tp := newTxnProducers()
		steps := 30 + rng.IntN(80)
		crashAt := rng.IntN(steps)
		for i := 0; i < steps; i++ {
			pid := int64(1 + rng.IntN(3))
			switch {
			case tp.open[pid] && rng.IntN(3) == 0:
				err = tp.end(p, pid, rng.IntN(2) == 0)
			case rng.IntN(5) == 0:
				_, err = p.Append(makeBatch(batchSpec{records: 1 + rng.IntN(3)}))
			default:
				err = tp.data(p, pid, 1+rng.IntN(3))
			}
			must(t, err)
			if rng.IntN(4) == 0 {
				_, _, leo := p.Offsets()
				must(t, p.WaitDurable(context.Background(), leo-1))
			}
			if i == crashAt {
				crashed = fs.CrashWith(rng)
			}
		}
		p.Close()
		for round := 0; round < 2; round++ {
			opts.FS = crashed
			p, err = Open(dir, "t", 0, cfg, opts)
			must(t, err)
			checkTxnState(t, p, fmt.Sprintf("seed %d round %d", seed, round))
			ongoing, _ := txnModel(t, p)
			// More work, then crash again.
			for pid := range ongoing {
				if _, err := p.AppendMarker(pid, 0, false, 0); err != nil {
					t.Fatal(err)
				}
			}
			_, err := p.Append(txnBatch(9, 0, int32(round*2), 2))
			must(t, err)
			crashed = crashed.CrashWith(rng)
			p.Close()
		}
	}
}

// TestTxnAbortedTxnsAcrossRolls interleaves the transactions of several
// producers over many small segments and checks AbortedTxns for every
// range against the list the test keeps itself, live and after a restart.
func TestTxnAbortedTxnsAcrossRolls(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 500, IndexIntervalBytes: 64}
	p := openTest(t, dir, cfg, Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	var want []AbortedTxn
	first := map[int64]int64{}
	seqs := map[int64]int32{}
	for i := 0; i < 300; i++ {
		pid := int64(1 + rng.IntN(4))
		if _, open := first[pid]; open && rng.IntN(3) == 0 {
			commit := rng.IntN(2) == 0
			off, err := p.AppendMarker(pid, 0, commit, 0)
			must(t, err)
			if !commit {
				want = append(want, AbortedTxn{ProducerID: pid, FirstOffset: first[pid], LastOffset: off})
			}
			delete(first, pid)
			continue
		}
		n := 1 + rng.IntN(3)
		res, err := p.Append(txnBatch(pid, 0, seqs[pid], n))
		must(t, err)
		seqs[pid] += int32(n)
		if _, open := first[pid]; !open {
			first[pid] = res.BaseOffset
		}
	}
	_, _, leo := p.Offsets()
	must(t, p.WaitDurable(context.Background(), leo-1))
	if segs := len(segBases(p)); segs < 10 {
		t.Fatalf("only %d segments", segs)
	}
	slices.SortStableFunc(want, func(a, b AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	check := func(when string) {
		t.Helper()
		for from := int64(0); from <= leo; from += 7 {
			for to := from; to <= leo+1; to += 13 {
				var w []AbortedTxn
				for _, a := range want {
					if a.LastOffset >= from && a.FirstOffset < to {
						w = append(w, a)
					}
				}
				if got := p.AbortedTxns(from, to); !(len(got) == 0 && len(w) == 0) && !reflect.DeepEqual(got, w) {
					t.Fatalf("%s: AbortedTxns(%d, %d) = %+v, want %+v", when, from, to, got, w)
				}
			}
		}
	}
	check("live")
	checkTxnState(t, p, "live")
	must(t, p.Close())
	p = openTest(t, dir, cfg, Options{})
	check("after a restart")
	checkTxnState(t, p, "after a restart")
}

// TestReadCommittedStopsAtLSO reads a log with an open transaction in the
// middle at every offset and size: records never reach the LSO, and the
// aborted list is that of the records returned.
func TestReadCommittedStopsAtLSO(t *testing.T) {
	p := openTest(t, t.TempDir(), Config{SegmentBytes: 600}, Options{})
	appendWait(t, p, makeBatch(batchSpec{records: 2})) // 0-1
	a := appendWait(t, p, txnBatch(1, 0, 0, 2))        // 2-3, aborted
	appendWait(t, p, makeBatch(batchSpec{records: 1})) // 4
	abort := markerWait(t, p, 1, 0, false)             // 5
	c := appendWait(t, p, txnBatch(2, 0, 0, 3))        // 6-8, committed
	appendWait(t, p, makeBatch(batchSpec{records: 1})) // 9
	open := appendWait(t, p, txnBatch(3, 0, 0, 2))     // 10-11, stays open
	markerWait(t, p, 2, 0, true)                       // 12
	appendWait(t, p, makeBatch(batchSpec{records: 2})) // 13-14
	_ = c
	lso := p.LastStableOffset()
	_, hw, _ := p.Offsets()
	if lso != open.BaseOffset || hw != 15 {
		t.Fatalf("LSO %d HW %d", lso, hw)
	}
	wantAborted := []AbortedTxn{{ProducerID: 1, FirstOffset: a.BaseOffset, LastOffset: abort}}
	for off := int64(0); off <= hw; off++ {
		for _, maxBytes := range []int{0, 100, 300, 1 << 20} {
			for _, minOne := range []bool{false, true} {
				res, err := p.ReadCommittedInto(nil, off, maxBytes, minOne)
				must(t, err)
				if res.LastStableOffset != lso || res.HighWatermark != hw {
					t.Fatalf("read at %d: LSO %d HW %d", off, res.LastStableOffset, res.HighWatermark)
				}
				last := int64(-1)
				must(t, records.Split(res.Records, func(h records.Header, _ []byte) error {
					if h.LastOffset() >= lso {
						t.Fatalf("read at %d: batch %d-%d reaches the LSO %d", off, h.BaseOffset, h.LastOffset(), lso)
					}
					last = h.LastOffset()
					return nil
				}))
				if off < lso && minOne && len(res.Records) == 0 {
					t.Fatalf("read at %d below the LSO with minOneBatch: nothing", off)
				}
				if off >= lso && len(res.Records) > 0 {
					t.Fatalf("read at %d at or above the LSO returned records", off)
				}
				var w []AbortedTxn
				if last >= 0 {
					w = p.AbortedTxns(off, last+1)
					if off <= abort && last >= a.BaseOffset && !reflect.DeepEqual(w, wantAborted) {
						t.Fatalf("read at %d: aborted %+v", off, w)
					}
				}
				if !reflect.DeepEqual(res.Aborted, w) {
					t.Fatalf("read at %d (max %d): aborted %+v, want %+v", off, maxBytes, res.Aborted, w)
				}
			}
		}
	}
	// ReadInto still goes to the HW and reports the LSO.
	res, err := p.ReadInto(nil, lso, 1<<20, true)
	must(t, err)
	if len(res.Records) == 0 || res.LastStableOffset != lso || res.Aborted != nil {
		t.Fatalf("ReadInto at the LSO: %d bytes, LSO %d", len(res.Records), res.LastStableOffset)
	}
	// Out of range is still an error.
	if _, err := p.ReadCommittedInto(nil, hw+1, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past the log end: %v", err)
	}
	// The marker makes everything stable.
	markerWait(t, p, 3, 0, true)
	if got := p.LastStableOffset(); got != hw+1 {
		t.Fatalf("LSO %d after the last marker, want %d", got, hw+1)
	}
}

// TestTxnMarkerBeforeDurable: a marker written but not yet durable leaves
// its transaction below the LSO (invariant 2 for transactions).
func TestTxnMarkerBeforeDurable(t *testing.T) {
	fs := vfs.NewMemFS()
	p := openTest(t, "/data/t-0", Config{}, Options{FS: fs})
	a := appendWait(t, p, txnBatch(1, 0, 0, 2))
	block := make(chan struct{})
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpSync {
			<-block
		}
		return nil
	})
	off, err := p.AppendMarker(1, 0, false, 0)
	must(t, err)
	if got := p.LastStableOffset(); got != a.BaseOffset {
		t.Fatalf("LSO %d before the marker is durable, want %d", got, a.BaseOffset)
	}
	if got := p.AbortedTxns(0, a.BaseOffset); len(got) != 0 {
		t.Fatalf("aborted below the LSO: %+v", got)
	}
	close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, p.WaitDurable(ctx, off))
	if got := p.LastStableOffset(); got != off+1 {
		t.Fatalf("LSO %d after the marker is durable, want %d", got, off+1)
	}
}

// TestTxnFencingAndRefusals: marker epochs, control batches and
// non-transactional batches inside a transaction.
func TestTxnFencingAndRefusals(t *testing.T) {
	p := openTest(t, t.TempDir(), Config{}, Options{})
	// A marker for an unknown producer is written and creates its state.
	off := markerWait(t, p, 5, 3, true)
	if infos := p.Producers(); len(infos) != 1 || infos[0].ProducerEpoch != 3 || infos[0].CurrentTxnStartOffset != -1 {
		t.Fatalf("producers after a marker: %+v", infos)
	}
	if got := p.AbortedTxns(0, off+1); len(got) != 0 {
		t.Fatalf("aborted %+v after a marker with nothing open", got)
	}
	if _, err := p.AppendMarker(5, 2, false, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker with an older epoch: %v", err)
	}
	a := appendWait(t, p, txnBatch(5, 3, 0, 2))
	if infos := p.Producers(); infos[0].CurrentTxnStartOffset != a.BaseOffset {
		t.Fatalf("producers in a transaction: %+v", infos)
	}
	// Non-transactional batches of the producer are refused while it is open,
	// with the same epoch or a newer one; an older epoch is fenced first.
	for _, ep := range []int16{3, 4} {
		if _, err := p.Append(makeBatch(batchSpec{idempotent: true, pid: 5, epoch: ep, seq: 2})); !errors.Is(err, ErrInvalidTxnState) {
			t.Fatalf("plain batch at epoch %d inside a transaction: %v", ep, err)
		}
	}
	if _, err := p.Append(makeBatch(batchSpec{idempotent: true, pid: 5, epoch: 2, seq: 2})); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("plain batch with an old epoch: %v", err)
	}
	// A fencing abort at a newer epoch ends it; the old epoch is fenced.
	abort := markerWait(t, p, 5, 4, false)
	if got := p.AbortedTxns(0, abort+1); !reflect.DeepEqual(got, []AbortedTxn{{5, a.BaseOffset, abort}}) {
		t.Fatalf("aborted %+v", got)
	}
	if _, err := p.Append(txnBatch(5, 3, 2, 1)); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("batch of the fenced epoch: %v", err)
	}
	if _, err := p.AppendMarker(5, 3, true, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker of the fenced epoch: %v", err)
	}
	if _, err := p.Append(txnBatch(5, 4, 5, 1)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("new epoch not at sequence 0: %v", err)
	}
	appendWait(t, p, txnBatch(5, 4, 0, 1))
	// After a marker the same epoch continues its sequence, and a plain
	// batch is fine again.
	markerWait(t, p, 5, 4, true)
	appendWait(t, p, makeBatch(batchSpec{idempotent: true, pid: 5, epoch: 4, seq: 1}))

	// Control batches from clients, even well-formed markers, are invalid.
	marker, err := records.BuildEndTxnMarker(5, 4, records.EndTxnMarker{Commit: true}, 1000)
	must(t, err)
	for _, b := range [][]byte{
		marker,
		makeBatch(batchSpec{attrs: records.ControlBit | records.TransactionalBit, idempotent: true, pid: 9}),
		makeBatch(batchSpec{attrs: records.ControlBit}),
	} {
		if _, err := p.Append(b); !errors.Is(err, records.ErrInvalid) || !errors.Is(err, records.ErrControlBatch) {
			t.Fatalf("control batch from a client: %v", err)
		}
	}
	// A transactional batch needs a producer id.
	if _, err := p.Append(makeBatch(batchSpec{attrs: records.TransactionalBit})); !errors.Is(err, records.ErrInvalid) {
		t.Fatalf("transactional batch without a producer: %v", err)
	}
	// A failed append opens nothing.
	if got := p.LastStableOffset(); got != p.hwOffset() {
		t.Fatalf("LSO %d, HW %d", got, p.hwOffset())
	}
	// The marker on disk is what a client reads.
	res, err := p.Read(abort, 1<<20, true)
	must(t, err)
	h := headerOf(t, res.Records)
	m, err := records.ParseEndTxnMarker(res.Records[:h.Size()])
	if err != nil || m.Commit || !h.IsControl() || !h.IsTransactional() || h.ProducerEpoch != 4 || h.BaseSequence != -1 {
		t.Fatalf("marker on disk %+v %+v %v", h, m, err)
	}
}

func (p *Partition) hwOffset() int64 {
	_, hw, _ := p.Offsets()
	return hw
}

// TestTxnLSONotBelowLogStart: deleting records under an open transaction
// moves the LSO up to the log start.
func TestTxnLSONotBelowLogStart(t *testing.T) {
	p := openTest(t, t.TempDir(), Config{SegmentBytes: 300}, Options{})
	a := appendWait(t, p, txnBatch(1, 0, 0, 2))
	for i := 0; i < 10; i++ {
		appendWait(t, p, makeBatch(batchSpec{records: 2, valueSize: 20}))
	}
	if got := p.LastStableOffset(); got != a.BaseOffset {
		t.Fatalf("LSO %d", got)
	}
	_, err := p.DeleteRecordsBefore(6)
	must(t, err)
	if got := p.LastStableOffset(); got != 6 {
		t.Fatalf("LSO %d after deleting records below 6", got)
	}
	res, err := p.ReadCommittedInto(nil, 6, 1<<20, true)
	must(t, err)
	if len(res.Records) != 0 || res.LastStableOffset != 6 {
		t.Fatalf("read committed at the log start: %d bytes, LSO %d", len(res.Records), res.LastStableOffset)
	}
}

// TestCompactionWithTransactions: aborted records never supersede a
// committed value and are dropped; the cleaner stops at the LSO.
func TestCompactionWithTransactions(t *testing.T) {
	fs := vfs.NewMemFS()
	dir := "/data/t-0"
	cfg := Config{SegmentBytes: 300, Compact: true}
	p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	defer func() { p.Close() }()
	k := []byte("k")
	txn := func(pid int64, seq int32, v string) AppendResult {
		b := keyedBatchTxn(t, pid, seq, []kv{{key: k, value: []byte(v)}})
		return appendWait(t, p, b)
	}
	pad := func(key string) {
		for i := 0; i < 3; i++ {
			appendWait(t, p, keyedBatch(t, records.CodecNone, -1, 0, []kv{{key: []byte(key), value: bytes.Repeat([]byte("p"), 60)}}))
		}
	}
	committed := txn(1, 0, "committed")
	markerWait(t, p, 1, 0, true)
	pad("a")
	aborted := txn(2, 0, "aborted")
	abort := markerWait(t, p, 2, 0, false)
	pad("b")
	open := txn(3, 0, "open") // stays open: the LSO
	pad("c")
	pad("d")
	c := newCleaner(1<<20, nil, testLogger(t))
	cleanAll(t, p, c)
	got := readAllRecords(t, p)
	var kept []int64
	for _, r := range got {
		if string(r.key) == "k" {
			kept = append(kept, r.off)
		}
	}
	if want := []int64{committed.BaseOffset, open.BaseOffset}; !slices.Equal(kept, want) {
		t.Fatalf("records of key k at %v, want %v (aborted one was at %d)", kept, want, aborted.BaseOffset)
	}
	if got := p.AbortedTxns(0, 1<<62); !reflect.DeepEqual(got, []AbortedTxn{{2, aborted.BaseOffset, abort}}) {
		t.Fatalf("aborted %+v", got)
	}
	// Nothing at or above the LSO was touched: the pads after it are all there.
	var padsAfter int
	for _, r := range got {
		if r.off > open.BaseOffset && (string(r.key) == "c" || string(r.key) == "d") {
			padsAfter++
		}
	}
	if padsAfter != 6 {
		t.Fatalf("%d records above the LSO, want 6", padsAfter)
	}
	// The markers are still there.
	markers := 0
	ls, hw, _ := p.Offsets()
	for off := ls; off < hw; {
		res, err := p.Read(off, 1<<20, true)
		must(t, err)
		must(t, records.Split(res.Records, func(h records.Header, _ []byte) error {
			if h.IsControl() {
				markers++
			}
			off = h.LastOffset() + 1
			return nil
		}))
	}
	if markers != 2 {
		t.Fatalf("%d markers after cleaning, want 2", markers)
	}
	// A restart agrees with the cleaned log.
	must(t, p.Close())
	p, err = Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	checkTxnState(t, p, "after cleaning and a restart")
	if got := p.LastStableOffset(); got != open.BaseOffset {
		t.Fatalf("LSO %d after restart, want %d", got, open.BaseOffset)
	}
}

func keyedBatchTxn(t testing.TB, pid int64, seq int32, recs []kv) []byte {
	t.Helper()
	rs := make([]records.Record, len(recs))
	for i, r := range recs {
		rs[i] = records.Record{OffsetDelta: int32(i), Key: r.key, Value: r.value}
	}
	b, err := records.Build(records.BuildOptions{ProducerID: pid, BaseSequence: seq, Transactional: true, BaseTimestamp: 1000}, rs)
	must(t, err)
	return b
}

// TestTxnAbortedTrimmedByLogStart: entries whose marker is below the log
// start are dropped at the next snapshot, in memory and in the file; the
// others survive a restart.
func TestTxnAbortedTrimmedByLogStart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 400}
	p := openTest(t, dir, cfg, Options{})
	var aborts []int64
	for i := int32(0); i < 12; i++ {
		appendWait(t, p, txnBatch(1, 0, i*2, 2))
		aborts = append(aborts, markerWait(t, p, 1, 0, false))
	}
	all := p.AbortedTxns(0, 1<<62)
	if len(all) != 12 {
		t.Fatalf("%d aborted", len(all))
	}
	cut := aborts[5] + 1
	_, err := p.DeleteRecordsBefore(cut)
	must(t, err)
	must(t, p.Close()) // writes a snapshot, and the file with it
	p = openTest(t, dir, cfg, Options{})
	got := p.AbortedTxns(0, 1<<62)
	if !reflect.DeepEqual(got, all[6:]) {
		t.Fatalf("aborted after deleting below %d and a restart: %+v, want %+v", cut, got, all[6:])
	}
	checkTxnStateFrom(t, p, "after trimming")
}

// checkTxnStateFrom is checkTxnState for a log whose start was moved: the
// model only knows the aborted transactions it sees whole.
func checkTxnStateFrom(t *testing.T, p *Partition, what string) {
	t.Helper()
	ls, _, _ := p.Offsets()
	_, aborted := txnModel(t, p)
	for _, a := range p.AbortedTxns(0, 1<<62) {
		if a.LastOffset < ls {
			t.Fatalf("%s: entry %+v below the log start %d", what, a, ls)
		}
		if a.FirstOffset >= ls && !slices.Contains(aborted, a) {
			t.Fatalf("%s: entry %+v not implied by the log (%+v)", what, a, aborted)
		}
	}
}
