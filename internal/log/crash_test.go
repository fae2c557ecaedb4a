package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// TestPowerLoss runs concurrent appenders on a MemFS, "pulls the plug" at a
// random moment (keeping a random prefix of unsynced writes, as a torn write
// would), reopens, and checks invariant 1: every append acknowledged before
// the crash (WaitDurable returned nil) is present exactly once at its offset
// with identical bytes, and the recovered log is contiguous and CRC-valid.
func TestPowerLoss(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			powerLossRound(t, uint64(seed))
		})
	}
}

type ackedBatch struct {
	base  int64
	bytes []byte
}

func powerLossRound(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	fs := vfs.NewMemFS()
	cfg := Config{SegmentBytes: int64(1500 + rng.IntN(6000)), IndexIntervalBytes: 100 + rng.IntN(500)}
	if rng.IntN(3) == 0 {
		cfg.LogAppendTime = true
	}
	dir := "/data/t-0"
	opts := Options{FS: fs, Logger: testLogger(t)}
	p, err := Open(dir, "t", 0, cfg, opts)
	must(t, err)
	if rng.IntN(3) == 0 {
		// A disk that fails an fsync at some point: the partition fails,
		// and what was acknowledged before must still survive.
		var syncs atomic.Int64
		failAt := int64(1 + rng.IntN(30))
		fs.SetHook(func(op vfs.Op, path string) error {
			if op == vfs.OpSync && syncs.Add(1) >= failAt {
				return errors.New("injected EIO")
			}
			return nil
		})
	}

	var (
		mu      sync.Mutex // held while recording acks and while crashing
		acked   []ackedBatch
		crashed bool
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	const appenders = 4
	for a := 0; a < appenders; a++ {
		wg.Add(1)
		arng := rand.New(rand.NewPCG(seed, uint64(a)))
		go func() {
			defer wg.Done()
			seq := int32(0)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				spec := batchSpec{records: 1 + arng.IntN(5), valueSize: arng.IntN(200), fill: byte(a*50 + i)}
				if a%2 == 0 { // idempotent producers
					spec.idempotent, spec.pid, spec.epoch, spec.seq = true, int64(a), 0, seq
				}
				b := makeBatch(spec)
				res, err := p.Append(b)
				if errors.Is(err, ErrClosed) || errors.Is(err, ErrStorage) {
					return
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				seq += int32(spec.records)
				if arng.IntN(4) == 0 {
					continue // acks=0: never waited for, never acknowledged
				}
				if err := p.WaitDurable(context.Background(), res.LastOffset); err != nil {
					return // closed by the test after the crash
				}
				mu.Lock()
				if !crashed {
					acked = append(acked, ackedBatch{res.BaseOffset, b})
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Duration(1+rng.IntN(25)) * time.Millisecond)
	mu.Lock()
	after := fs.CrashWith(rng)
	crashed = true
	mu.Unlock()
	close(stop)
	p.Close()
	wg.Wait()
	t.Logf("%d appends acknowledged before the crash", len(acked))

	for round := 0; round < 2; round++ {
		opts.FS = after
		p, err = Open(dir, "t", 0, cfg, opts)
		must(t, err)
		checkRecovered(t, p, acked)
		// The log takes appends at the right offset after recovery.
		_, hw, leo := p.Offsets()
		if hw != leo {
			t.Fatalf("after recovery hw %d != leo %d", hw, leo)
		}
		b := makeBatch(batchSpec{records: 2})
		res := appendWait(t, p, b)
		if res.BaseOffset != leo {
			t.Fatalf("append after recovery at %d, want %d", res.BaseOffset, leo)
		}
		acked = append(acked, ackedBatch{res.BaseOffset, b})
		// Crash again, this time right after a clean-ish state.
		after = after.CrashWith(rng)
		p.Close()
	}
}

func checkRecovered(t *testing.T, p *Partition, acked []ackedBatch) {
	t.Helper()
	for _, a := range acked {
		rr, err := p.Read(a.base, len(a.bytes), true)
		if err != nil {
			t.Fatalf("acked batch at %d: %v", a.base, err)
		}
		if !bytes.Equal(rr.Records, a.bytes) {
			t.Fatalf("acked batch at %d lost or changed (got %d bytes, want %d)", a.base, len(rr.Records), len(a.bytes))
		}
	}
	// The whole log: contiguous, CRC-valid, each idempotent batch once.
	_, hw, _ := p.Offsets()
	next := int64(0)
	seen := map[[2]int64]bool{}
	for next < hw {
		rr, err := p.Read(next, 1<<16, true)
		must(t, err)
		if len(rr.Records) == 0 {
			t.Fatalf("no records at %d below hw %d", next, hw)
		}
		must(t, records.Split(rr.Records, func(h records.Header, b []byte) error {
			if h.BaseOffset != next {
				return fmt.Errorf("batch at %d, expected %d", h.BaseOffset, next)
			}
			if h.ProducerID >= 0 {
				k := [2]int64{h.ProducerID, int64(h.BaseSequence)}
				if seen[k] {
					return fmt.Errorf("producer %d sequence %d stored twice", h.ProducerID, h.BaseSequence)
				}
				seen[k] = true
			}
			next = h.LastOffset() + 1
			return records.CheckCRC(b)
		}))
	}
}
