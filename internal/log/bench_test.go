package log

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func benchBatch(size int) []byte {
	const value = 1000
	n := max(1, size/(value+20))
	return makeBatch(batchSpec{records: n, valueSize: value})
}

// BenchmarkAppend measures produce with acks=all on the real filesystem:
// Append then WaitDurable, one producer (an fsync per append) and many
// (group commit: concurrent appends share fsyncs).
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		for _, par := range []bool{false, true} {
			name := fmt.Sprintf("batch=%dKB", size>>10)
			if par {
				name += "/producers=parallel"
			}
			b.Run(name, func(b *testing.B) {
				p, err := Open(b.TempDir(), "t", 0, DefaultConfig(), Options{Logger: quietLogger})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				batch := benchBatch(size)
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				b.ResetTimer()
				if !par {
					for i := 0; i < b.N; i++ {
						res, err := p.Append(batch)
						if err != nil {
							b.Fatal(err)
						}
						if err := p.WaitDurable(context.Background(), res.LastOffset); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					mine := append([]byte(nil), batch...)
					for pb.Next() {
						res, err := p.Append(mine)
						if err != nil {
							b.Error(err)
							return
						}
						if err := p.WaitDurable(context.Background(), res.LastOffset); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func fillForBench(b *testing.B, cfg Config, n, size int) *Partition {
	p, err := Open(b.TempDir(), "t", 0, cfg, Options{Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(size)
	var last int64
	for i := 0; i < n; i++ {
		res, err := p.Append(batch)
		if err != nil {
			b.Fatal(err)
		}
		last = res.LastOffset
	}
	if err := p.WaitDurable(context.Background(), last); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkRead measures fetches of up to 1 MiB from random offsets.
func BenchmarkRead(b *testing.B) {
	p := fillForBench(b, Config{SegmentBytes: 8 << 20}, 2000, 16<<10)
	defer p.Close()
	_, hw, _ := p.Offsets()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	var n int64
	for i := 0; i < b.N; i++ {
		rr, err := p.Read(rng.Int64N(hw), 1<<20, true)
		if err != nil {
			b.Fatal(err)
		}
		n += int64(len(rr.Records))
	}
	b.SetBytes(n / int64(b.N))
}

// BenchmarkIndexLookup measures finding the batch of an offset: near the
// tail (active segment, index in memory) and far from it (closed segments,
// index binary-searched in the file).
func BenchmarkIndexLookup(b *testing.B) {
	p := fillForBench(b, Config{SegmentBytes: 4 << 20, IndexIntervalBytes: 4096}, 40000, 1<<10)
	defer p.Close()
	p.vmu.RLock()
	segs, hw := p.segs, p.hw
	p.vmu.RUnlock()
	active := segs[len(segs)-1]
	for _, c := range []struct {
		name   string
		lo, hi int64
	}{
		{"near", active.base, hw.offset},
		{"far", 0, segs[len(segs)/2].base},
	} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				off := c.lo + rng.Int64N(c.hi-c.lo)
				j := 0
				for j+1 < len(segs) && segs[j+1].base <= off {
					j++
				}
				limit := segs[j].size.Load()
				if segs[j] == hw.seg {
					limit = hw.pos
				}
				pos, err := segs[j].find(off, limit)
				if err != nil || pos < 0 {
					b.Fatal(off, pos, err)
				}
			}
		})
	}
}
