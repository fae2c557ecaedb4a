package log

import (
	"cmp"
	"context"
	"errors"
	"io"
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
// transaction state must be.
func txnModel(t *testing.T, p *Partition) (ongoing map[int64]int64, aborted []AbortedTxn) {
	t.Helper()
	st := newProducerState()
	for _, s := range p.segs {
		r := newBatchReader(s.log, 0, s.size.Load())
		for {
			b, _, err := r.next()
			if err == io.EOF {
				break
			}
			must(t, err)
			h, err := records.ParseHeader(b)
			must(t, err)
			a, ok, err := st.replayTxn(&h, b)
			must(t, err)
			if ok {
				aborted = append(aborted, a)
			}
		}
	}
	slices.SortStableFunc(aborted, func(a, b AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	ongoing = map[int64]int64{}
	for pid, e := range st.m {
		if e.txnOpen {
			ongoing[pid] = e.txnFirst
		}
	}
	return ongoing, aborted
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
		seqs := map[int64]int32{}
		open := map[int64]bool{}
		steps := 30 + rng.IntN(80)
		crashAt := rng.IntN(steps)
		for i := 0; i < steps; i++ {
			pid := int64(1 + rng.IntN(3))
			switch {
			case open[pid] && rng.IntN(3) == 0:
				_, err = p.AppendMarker(pid, 0, rng.IntN(2) == 0, 0)
				open[pid] = false
			case rng.IntN(5) == 0:
				_, err = p.Append(makeBatch(batchSpec{records: 1 + rng.IntN(3)}))
			default:
				n := 1 + rng.IntN(3)
				_, err = p.Append(txnBatch(pid, 0, seqs[pid], n))
				seqs[pid] += int32(n)
				open[pid] = true
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
			ongoing, aborted := txnModel(t, p)
			if !reflect.DeepEqual(p.txv.ongoing, ongoing) {
				t.Fatalf("seed %d round %d: open transactions %v, the log implies %v", seed, round, p.txv.ongoing, ongoing)
			}
			if got := p.AbortedTxns(0, 1<<62); !(len(got) == 0 && len(aborted) == 0) && !reflect.DeepEqual(got, aborted) {
				t.Fatalf("seed %d round %d: aborted %+v, the log implies %+v", seed, round, got, aborted)
			}
			_, hw, _ := p.Offsets()
			lso := hw
			for _, f := range ongoing {
				lso = min(lso, f)
			}
			if got := p.LastStableOffset(); got != lso {
				t.Fatalf("seed %d round %d: LSO %d, want %d", seed, round, got, lso)
			}
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
