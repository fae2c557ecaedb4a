package broker_test

// End-to-end benchmarks: a franz-go client against an in-process broker over
// loopback TCP, with the default durability (fsync before every
// acknowledgement). They report throughput, not pass/fail thresholds:
//
//	go test -run '^$' -bench Franz -benchtime 200000x ./broker/
//
// fsyncs/s and records/fsync come from counting File.Sync calls through the
// Config.FS seam (segment and index files; directory syncs are counted
// separately as dirsyncs/op), which is what the group commit is meant to keep
// low.

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/broker"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// countingFS counts syncs on the way to the real filesystem.
type countingFS struct {
	vfs.FS
	syncs    atomic.Int64
	dirSyncs atomic.Int64
}

type countingFile struct {
	vfs.File
	fs *countingFS
}

func (c *countingFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return countingFile{f, c}, nil
}

func (c *countingFS) SyncDir(name string) error {
	c.dirSyncs.Add(1)
	return c.FS.SyncDir(name)
}

func (f countingFile) Sync() error {
	f.fs.syncs.Add(1)
	return f.File.Sync()
}

const benchPartitions = 6

// benchBroker starts a broker with the default (fsync always) settings on a
// counting filesystem and creates a topic for the benchmark.
func benchBroker(b *testing.B, topic string) (string, *countingFS) {
	b.Helper()
	cfs := &countingFS{FS: vfs.OS}
	_, addr := startBroker(b, func(c *broker.Config) { c.FS = cfs })
	createTopic(b, addr, topic, benchPartitions, nil)
	return addr, cfs
}

// produceN produces n records of value round-robin over the partitions,
// asynchronously (at most kgo's MaxBufferedRecords in flight), and waits for
// every acknowledgement.
func produceN(b *testing.B, cl *kgo.Client, topic string, n int, value []byte) {
	b.Helper()
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	ctx := context.Background()
	for i := range n {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % benchPartitions), Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, &err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d records failed; first: %v", n, *firstErr.Load())
	}
}

func BenchmarkProduceFranz(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			const topic = "bench-produce"
			addr, cfs := benchBroker(b, topic)
			// Idempotent acks=all (the franz-go default); no compression, so
			// the broker handles the bytes the benchmark reports.
			cl := newFranz(b, addr, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()))
			value := make([]byte, size)
			rand.Read(value)
			// Warm up: connections, producer id, metadata.
			produceN(b, cl, topic, benchPartitions, value)

			syncs0, dirSyncs0 := cfs.syncs.Load(), cfs.dirSyncs.Load()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			produceN(b, cl, topic, b.N, value)
			elapsed := time.Since(start)
			b.StopTimer()

			syncs := cfs.syncs.Load() - syncs0
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(syncs)/elapsed.Seconds(), "fsyncs/s")
			if syncs > 0 {
				b.ReportMetric(float64(b.N)/float64(syncs), "records/fsync")
			}
			b.ReportMetric(float64(cfs.dirSyncs.Load()-dirSyncs0)/float64(b.N), "dirsyncs/op")
		})
	}
}

func BenchmarkFetchFranz(b *testing.B) {
	const size = 1024
	const topic = "bench-fetch"
	addr, _ := benchBroker(b, topic)
	value := make([]byte, size)
	rand.Read(value)
	prod := newFranz(b, addr, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	produceN(b, prod, topic, b.N, value)

	offsets := make(map[int32]kgo.Offset, benchPartitions)
	for p := range int32(benchPartitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl := newFranz(b, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	got := 0
	for got < b.N {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			b.Fatalf("consumed %d of %d records: %v", got, b.N, ctx.Err())
		}
		fs.EachError(func(t string, p int32, err error) { b.Fatalf("fetch %s/%d: %v", t, p, err) })
		got += fs.NumRecords()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got != b.N {
		b.Fatalf("consumed %d records, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
}
