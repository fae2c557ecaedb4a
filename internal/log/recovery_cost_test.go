package log

import (
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// TestRecoveryCostIsTheTail checks that reopening a log with many closed
// segments reads only the tail: after Close nothing is scanned, and after a
// crash only the active segment is.
func TestRecoveryCostIsTheTail(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := "clean"
		if crash {
			name = "crash"
		}
		t.Run(name, func(t *testing.T) {
			fs := vfs.NewMemFS()
			cfg := Config{SegmentBytes: 4096, IndexIntervalBytes: 512}
			opts := Options{FS: fs, Logger: testLogger(t)}
			p, err := Open("/data/t-0", "t", 0, cfg, opts)
			must(t, err)
			for i := 0; i < 1000; i++ {
				spec := batchSpec{records: 4, valueSize: 50}
				if i%2 == 0 {
					spec.idempotent, spec.pid, spec.seq = true, 1, int32(i*2)
				}
				_, err := p.Append(makeBatch(spec))
				must(t, err)
			}
			_, _, leo := p.Offsets()
			appendWait(t, p, makeBatch(batchSpec{}))
			total := p.Size()
			p.vmu.RLock()
			nsegs, active := len(p.segs), p.segs[len(p.segs)-1].size.Load()
			p.vmu.RUnlock()
			if crash {
				fs = fs.Crash()
				p.Close()
			} else {
				must(t, p.Close())
			}
			opts.FS = fs
			before := fs.ReadBytes()
			p2, err := Open("/data/t-0", "t", 0, cfg, opts)
			must(t, err)
			defer p2.Close()
			read := fs.ReadBytes() - before
			t.Logf("%d segments, %d bytes; active segment %d bytes; reopening read %d bytes", nsegs, total, active, read)
			// Per closed segment we read a few index entries and nothing else.
			budget := int64(nsegs)*64 + 4096
			if crash {
				// The active segment is scanned, and producer state replayed
				// over it (from the snapshot of the last roll).
				budget += 3 * active
			}
			if read > budget {
				t.Fatalf("reopening read %d bytes, budget %d (log is %d bytes)", read, budget, total)
			}
			if _, hw, _ := p2.Offsets(); hw != leo+1 {
				t.Fatalf("hw %d want %d", hw, leo+1)
			}
			// Idempotence state is there without a scan.
			res, err := p2.Append(makeBatch(batchSpec{records: 4, idempotent: true, pid: 1, seq: 1996}))
			if err != nil || !res.Duplicate {
				t.Fatalf("duplicate after reopen: %+v %v", res, err)
			}
		})
	}
}
