package log

import (
	"errors"
	"math"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

func idem(pid int64, epoch int16, seq int32, n int) []byte {
	return makeBatch(batchSpec{idempotent: true, pid: pid, epoch: epoch, seq: seq, records: n})
}

func TestIdempotence(t *testing.T) {
	type step struct {
		name    string
		batch   []byte
		err     error
		dup     bool
		base    int64 // expected base offset (also for duplicates)
		comment string
	}
	steps := []step{
		{name: "first batch of unknown producer, any sequence", batch: idem(1, 0, 7, 2), base: 0},
		{name: "next in sequence", batch: idem(1, 0, 9, 3), base: 2},
		{name: "retry of the last batch", batch: idem(1, 0, 9, 3), dup: true, base: 2},
		{name: "retry of an older cached batch", batch: idem(1, 0, 7, 2), dup: true, base: 0},
		{name: "gap", batch: idem(1, 0, 13, 1), err: ErrOutOfOrderSequence},
		{name: "overlap not equal to a cached batch", batch: idem(1, 0, 10, 1), err: ErrOutOfOrderSequence},
		{name: "continues after refused batches", batch: idem(1, 0, 12, 1), base: 5},
		{name: "new epoch must start at 0", batch: idem(1, 1, 13, 1), err: ErrOutOfOrderSequence},
		{name: "new epoch at 0", batch: idem(1, 1, 0, 2), base: 6},
		{name: "fenced old epoch", batch: idem(1, 0, 13, 1), err: ErrInvalidProducerEpoch},
		{name: "old epoch retry is fenced, not a duplicate", batch: idem(1, 0, 12, 1), err: ErrInvalidProducerEpoch},
		{name: "other producer independent", batch: idem(2, 5, 100, 1), base: 8},
		{name: "sequence near wrap", batch: idem(3, 0, math.MaxInt32-1, 2), base: 9},
		{name: "wraps to 0", batch: idem(3, 0, 0, 1), base: 11},
		{name: "non-idempotent batch", batch: makeBatch(batchSpec{}), base: 12},
	}
	// A batch that itself wraps: lastSeq = 1.
	steps = append(steps,
		step{name: "batch spanning the wrap", batch: idem(4, 0, math.MaxInt32, 3), base: 13},
		step{name: "after a spanning batch", batch: idem(4, 0, 2, 1), base: 16},
		step{name: "retry spanning batch", batch: idem(4, 0, math.MaxInt32, 3), dup: true, base: 13},
	)
	p := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	for _, s := range steps {
		res, err := p.Append(s.batch)
		if s.err != nil {
			if !errors.Is(err, s.err) {
				t.Fatalf("%s: err %v, want %v", s.name, err, s.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Duplicate != s.dup || res.BaseOffset != s.base {
			t.Fatalf("%s: dup %v base %d, want dup %v base %d", s.name, res.Duplicate, res.BaseOffset, s.dup, s.base)
		}
	}
}

func TestIdempotenceWindowOfFive(t *testing.T) {
	p := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	for i := int32(0); i < 7; i++ {
		appendWait(t, p, idem(9, 0, i, 1))
	}
	// Batches 2..6 are cached; 1 is not, and is out of sequence now.
	if res, err := p.Append(idem(9, 0, 2, 1)); err != nil || !res.Duplicate || res.BaseOffset != 2 {
		t.Fatalf("seq 2: %+v %v", res, err)
	}
	if _, err := p.Append(idem(9, 0, 1, 1)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("seq 1: %v", err)
	}
}

func TestIdempotenceWithinOneAppend(t *testing.T) {
	p := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	req := append(idem(5, 0, 0, 2), idem(5, 0, 2, 2)...)
	res, err := p.Append(req)
	if err != nil || res.BaseOffset != 0 || res.LastOffset != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	// Second batch out of sequence: nothing of the append is written.
	req = append(idem(5, 0, 4, 1), idem(5, 0, 9, 1)...)
	if _, err := p.Append(req); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatal(err)
	}
	if res, err := p.Append(idem(5, 0, 4, 1)); err != nil || res.BaseOffset != 4 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestProducerStateSurvivesRestart(t *testing.T) {
	for _, mode := range []string{"close", "crash", "crash-after-roll", "crash-no-snapshot-file"} {
		t.Run(mode, func(t *testing.T) {
			fs := vfs.NewMemFS()
			cfg := Config{SegmentBytes: 300}
			opts := Options{FS: fs, Logger: testLogger(t)}
			p, err := Open("/data/t-0", "t", 0, cfg, opts)
			must(t, err)
			var last AppendResult
			n := 3
			if mode == "crash-after-roll" {
				n = 12 // several rolls, with snapshots
			}
			for i := 0; i < n; i++ {
				last = appendWait(t, p, idem(42, 3, int32(i*2), 2))
			}
			switch mode {
			case "close":
				must(t, p.Close())
			default:
				fs = fs.Crash()
				p.Close()
				if mode == "crash-no-snapshot-file" {
					names, _ := fs.ReadDir("/data/t-0")
					for _, name := range names {
						if _, ok := parseFileName(name, snapshotSuffix); ok {
							must(t, fs.Remove("/data/t-0/"+name))
						}
					}
				}
			}
			opts.FS = fs
			p, err = Open("/data/t-0", "t", 0, cfg, opts)
			must(t, err)
			defer p.Close()
			res, err := p.Append(idem(42, 3, int32((n-1)*2), 2))
			if err != nil || !res.Duplicate || res.BaseOffset != last.BaseOffset {
				t.Fatalf("retry after restart: %+v %v (want base %d)", res, err, last.BaseOffset)
			}
			if _, err := p.Append(idem(42, 2, int32(n*2), 1)); !errors.Is(err, ErrInvalidProducerEpoch) {
				t.Fatalf("stale epoch after restart: %v", err)
			}
			if _, err := p.Append(idem(42, 3, int32(n*2+1), 1)); !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("gap after restart: %v", err)
			}
			if res, err := p.Append(idem(42, 3, int32(n*2), 1)); err != nil || res.Duplicate || res.BaseOffset != last.LastOffset+1 {
				t.Fatalf("next after restart: %+v %v", res, err)
			}
		})
	}
}

func TestProducerSnapshotCodec(t *testing.T) {
	s := newProducerState()
	a := s.begin()
	for i := int32(0); i < 8; i++ {
		h := headerOf(t, idem(int64(i%3), int16(i%2), i, 1))
		h.BaseOffset = int64(i)
		a.update(&h)
	}
	a.commit(0)
	b := s.encode()
	s2, err := decodeProducerSnapshot(b)
	must(t, err)
	if len(s2.m) != len(s.m) {
		t.Fatalf("%d producers, want %d", len(s2.m), len(s.m))
	}
	for pid, e := range s.m {
		if *s2.m[pid] != *e {
			t.Fatalf("producer %d: %+v != %+v", pid, *s2.m[pid], *e)
		}
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if _, err := decodeProducerSnapshot(c); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	if _, err := decodeProducerSnapshot(b[:len(b)-1]); err == nil {
		t.Fatal("short snapshot accepted")
	}
}
