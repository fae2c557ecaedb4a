package log

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// ReadSpan names exactly the batches ReadInto and ReadCommittedInto read,
// for every offset, over logs of many segments with batches of mixed sizes
// (some larger than a whole read), sparse indexes and open, committed and
// aborted transactions; and the span's bytes are those batches.
func TestReadSpanMatchesRead(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		cfg := Config{SegmentBytes: int64(40_000 + rng.IntN(60_000)), IndexIntervalBytes: 64 + rng.IntN(2000)}
		p := openTest(t, t.TempDir(), cfg, Options{})
		tp := newTxnProducers()
		for i := 0; i < 500; i++ {
			pid := int64(1 + rng.IntN(3))
			var err error
			switch r := rng.IntN(10); {
			case tp.open[pid] && r < 2:
				err = tp.end(p, pid, r == 0)
			case r < 6:
				size := 1 + rng.IntN(200)
				if rng.IntN(20) == 0 {
					size = 2000 + rng.IntN(6000) // batches larger than many reads
				}
				_, err = p.Append(makeBatch(batchSpec{records: 1 + rng.IntN(4), valueSize: size}))
			default:
				err = tp.data(p, pid, 1+rng.IntN(3))
			}
			must(t, err)
		}
		_, _, leo := p.Offsets()
		must(t, p.WaitDurable(context.Background(), leo-1))
		if len(p.segs) < 2 {
			t.Fatalf("seed %d: %d segments, want several", seed, len(p.segs))
		}
		for off := int64(0); off <= leo; off++ {
			maxBytes := []int{0, 1, 100, 3000, 9000, 40_000, 1 << 20}[rng.IntN(7)]
			minOne := rng.IntN(2) == 0
			for _, committed := range []bool{false, true} {
				var want ReadResult
				var err error
				if committed {
					want, err = p.ReadCommittedInto(nil, off, maxBytes, minOne)
				} else {
					want, err = p.ReadInto(nil, off, maxBytes, minOne)
				}
				must(t, err)
				got, sp, err := p.ReadSpan(off, maxBytes, minOne, committed)
				must(t, err)
				var recs []byte
				if sp.Len > 0 {
					recs, err = sp.ReadInto(nil)
					must(t, err)
					sp.Release()
				}
				if !bytes.Equal(recs, want.Records) || got.Records != nil {
					t.Fatalf("seed %d: ReadSpan(%d, %d, %v, committed %v): %d bytes, ReadInto %d", seed, off, maxBytes, minOne, committed, len(recs), len(want.Records))
				}
				if got.HighWatermark != want.HighWatermark || got.LastStableOffset != want.LastStableOffset || got.LogStartOffset != want.LogStartOffset {
					t.Fatalf("seed %d: ReadSpan(%d) offsets %+v, ReadInto %+v", seed, off, got, want)
				}
				if !slices.Equal(got.Aborted, want.Aborted) {
					t.Fatalf("seed %d: ReadSpan(%d, committed) aborted %v, want %v", seed, off, got.Aborted, want.Aborted)
				}
			}
		}
	}
}

// A span keeps its segment's file open after the segment left the log, until
// it is released.
func TestSpanHoldsRemovedSegment(t *testing.T) {
	cfg := Config{SegmentBytes: 2000, Delete: true, RetentionMs: -1, RetentionBytes: -1, FileDeleteDelayMs: 0}
	p := openTest(t, t.TempDir(), cfg, Options{})
	for i := 0; i < 40; i++ {
		appendWait(t, p, makeBatch(batchSpec{records: 2, valueSize: 100}))
	}
	_, sp, err := p.ReadSpan(0, 1<<20, true, false)
	must(t, err)
	if sp.Len == 0 {
		t.Fatal("no span at offset 0")
	}
	want, err := p.Read(0, 1<<20, true)
	must(t, err)
	if _, err := p.DeleteRecordsBefore(30); err != nil {
		t.Fatal(err)
	}
	seg := sp.seg
	time.Sleep(50 * time.Millisecond) // past the delete delay (0)
	if seg.life.destroyed.Load() {
		t.Fatal("segment closed while a span holds it")
	}
	got, err := sp.ReadInto(nil)
	must(t, err)
	if !bytes.Equal(got, want.Records) {
		t.Fatal("span bytes changed after the segment left the log")
	}
	sp.Release()
	sp.Release() // idempotent
	deadline := time.Now().Add(5 * time.Second)
	for !seg.life.destroyed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("segment not closed after its span was released")
		}
		time.Sleep(time.Millisecond)
	}
}
