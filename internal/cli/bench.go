package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func benchCmd(ctx context.Context, env Env, args []string) error {
	const usage = "chronik bench produce|consume [flags]"
	if len(args) == 0 {
		return usagef("bench", usage, "missing subcommand")
	}
	switch args[0] {
	case "produce":
		return benchProduceCmd(ctx, env, args[1:])
	case "consume":
		return benchConsumeCmd(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintf(env.Stdout, "Usage: %s\n", usage)
		return nil
	}
	return usagef("bench", usage, "unknown subcommand %q", args[0])
}

// ProduceBenchOptions configures a produce load run.
type ProduceBenchOptions struct {
	Topic             string
	Partitions        int32 // for the topic if it is created
	ReplicationFactor int16
	RecordSize        int
	Records           int64         // stop after this many records (0: no limit)
	Duration          time.Duration // stop after this long (0: no limit)
	Acks              string        // all, 1 or 0
	Idempotent        bool
	Rate              int    // records per second; 0: as fast as possible
	Compression       string // none, gzip, snappy, lz4, zstd
	Linger            time.Duration
	MaxInflight       int // produce requests in flight per broker (not idempotent only)
	BatchMaxBytes     int32
	MaxBuffered       int
	Progress          io.Writer // a line per second; nil for none
	Seed              uint64
}

// ProduceBenchResult is the report of a produce run (the --json output).
type ProduceBenchResult struct {
	Topic          string        `json:"topic"`
	RecordSize     int           `json:"record_size"`
	Acks           string        `json:"acks"`
	Idempotent     bool          `json:"idempotent"`
	Compression    string        `json:"compression"`
	TargetRate     int           `json:"target_rate"`
	Sent           int64         `json:"records_sent"`
	Acked          int64         `json:"records_acked"`
	Failed         int64         `json:"records_failed"`
	Bytes          int64         `json:"bytes_acked"`
	ElapsedSeconds float64       `json:"elapsed_s"`
	RecordsPerSec  float64       `json:"records_per_sec"`
	MiBPerSec      float64       `json:"mib_per_sec"`
	Latency        LatencyReport `json:"latency_ms"`
	FirstError     string        `json:"first_error,omitempty"`
}

// LatencyReport is in milliseconds.
type LatencyReport struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func latencyReport(h *histogram) LatencyReport {
	ms := func(v uint64) float64 { return float64(v) / 1e6 }
	return LatencyReport{
		P50: ms(h.quantile(0.50)), P99: ms(h.quantile(0.99)), P999: ms(h.quantile(0.999)),
		Max: ms(h.max), Mean: h.mean() / 1e6,
	}
}

func parseAcks(s string) (kgo.Acks, error) {
	switch s {
	case "all", "-1":
		return kgo.AllISRAcks(), nil
	case "1":
		return kgo.LeaderAck(), nil
	case "0":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("--acks %q: want all, 1 or 0", s)
}

func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// producerOpts maps the shared producer flags onto kgo options.
func producerOpts(acks string, idempotent bool, compression string, linger time.Duration, maxInflight int) ([]kgo.Opt, error) {
	a, err := parseAcks(acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.RequiredAcks(a), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(linger)}
	if idempotent {
		if acks != "all" && acks != "-1" {
			return nil, errors.New("--idempotent needs --acks all (or pass --idempotent=false)")
		}
		if maxInflight > 0 {
			return nil, errors.New("--max-inflight applies only with --idempotent=false (kgo keeps at most 5 idempotent requests in flight)")
		}
	} else {
		opts = append(opts, kgo.DisableIdempotentWrite())
		if maxInflight > 0 {
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(maxInflight))
		}
	}
	return opts, nil
}

func benchProduceCmd(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "bench produce", "chronik bench produce --topic T [--records N | --duration D] [flags]", `
Produces records of --record-size bytes as fast as possible (or at --rate)
and reports throughput and latency: the time from the Produce call to its
acknowledgement. Prints a progress line every second on stderr.`)
	cf := c.clientFlags()
	var o ProduceBenchOptions
	var jsonOut, quiet bool
	c.fs.StringVar(&o.Topic, "topic", "chronik-bench", "topic, created if missing")
	var parts, rf int
	c.fs.IntVar(&parts, "partitions", 6, "partitions of the topic if it is created")
	c.fs.IntVar(&rf, "replication-factor", -1, "replication factor if the topic is created (-1: broker default)")
	c.fs.IntVar(&o.RecordSize, "record-size", 1024, "value bytes per record")
	c.fs.Int64Var(&o.Records, "records", 0, "records to send (0: until --duration)")
	c.fs.DurationVar(&o.Duration, "duration", 0, "how long to send (default 10s when --records is not given)")
	c.fs.StringVar(&o.Acks, "acks", "all", "all, 1 or 0")
	c.fs.BoolVar(&o.Idempotent, "idempotent", true, "idempotent producer (needs --acks all)")
	c.fs.IntVar(&o.Rate, "rate", 0, "records per second (0: as fast as possible)")
	c.fs.StringVar(&o.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	c.fs.DurationVar(&o.Linger, "linger", 10*time.Millisecond, "how long a partition waits for more records before a batch is sent")
	c.fs.IntVar(&o.MaxInflight, "max-inflight", 0, "produce requests in flight per broker, with --idempotent=false (0: kgo's default, 1)")
	var batchMax int
	c.fs.IntVar(&batchMax, "batch-max-bytes", 0, "largest batch (0: kgo's default, 1 MB)")
	c.fs.IntVar(&o.MaxBuffered, "max-buffered", 0, "records buffered in the client before Produce blocks (0: kgo's default, 50000)")
	c.fs.BoolVar(&jsonOut, "json", false, "print the report as JSON on stdout")
	c.fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return c.usagef("unexpected arguments %q", pos)
	}
	o.Partitions, o.ReplicationFactor, o.BatchMaxBytes = int32(parts), int16(rf), int32(batchMax)
	if o.Records == 0 && o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	if o.RecordSize < 0 || o.Records < 0 || o.Duration < 0 || o.Rate < 0 {
		return c.usagef("sizes, counts, durations and rates must not be negative")
	}
	if !c.set("idempotent") && o.Acks != "all" && o.Acks != "-1" {
		o.Idempotent = false // idempotence needs acks=all; only an explicit --idempotent is an error
	}
	if _, err := producerOpts(o.Acks, o.Idempotent, o.Compression, o.Linger, o.MaxInflight); err != nil {
		return c.usagef("%v", err)
	}
	if !quiet {
		o.Progress = env.Stderr
	}
	res, err := benchProduce(ctx, cf, o)
	if err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(env.Stdout)
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printProduceResult(env.Stdout, res)
	}
	if res.Failed > 0 {
		return exitError(ExitFail)
	}
	return nil
}

func printProduceResult(w io.Writer, r *ProduceBenchResult) {
	fmt.Fprintf(w, "topic %s, %d-byte records, acks=%s, idempotent=%v, compression=%s\n",
		r.Topic, r.RecordSize, r.Acks, r.Idempotent, r.Compression)
	fmt.Fprintf(w, "records: %d sent, %d acked, %d failed in %.2f s\n", r.Sent, r.Acked, r.Failed, r.ElapsedSeconds)
	fmt.Fprintf(w, "throughput: %.0f records/s, %.2f MiB/s\n", r.RecordsPerSec, r.MiBPerSec)
	l := r.Latency
	fmt.Fprintf(w, "latency ms: p50 %.3f, p99 %.3f, p99.9 %.3f, max %.3f, mean %.3f\n", l.P50, l.P99, l.P999, l.Max, l.Mean)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", r.FirstError)
	}
}

// ensureTopic creates topic with the given partitions unless it exists.
func ensureTopic(ctx context.Context, cf *clientFlags, adm *kadm.Client, topic string, partitions int32, rf int16, progress io.Writer) error {
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()
	resp, err := adm.CreateTopic(rctx, partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		if progress != nil {
			fmt.Fprintf(progress, "created topic %s with %d partitions\n", topic, partitions)
		}
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	}
	return fmt.Errorf("create topic %s: %w", topic, cf.connErr(err))
}

// benchRecord carries a record's start time next to it. The promise gets
// the *kgo.Record back; Record is the first field, so the pointer converts
// back to its benchRecord (kgo's own Timestamp is truncated to milliseconds
// and loses the monotonic clock, so it cannot time sub-millisecond acks).
type benchRecord struct {
	rec   kgo.Record
	start time.Time
}

// benchProduce runs a produce load against the brokers of cf.
func benchProduce(ctx context.Context, cf *clientFlags, o ProduceBenchOptions) (*ProduceBenchResult, error) {
	popts, err := producerOpts(o.Acks, o.Idempotent, o.Compression, o.Linger, o.MaxInflight)
	if err != nil {
		return nil, err
	}
	popts = append(popts, kgo.DefaultProduceTopic(o.Topic), kgo.ProduceRequestTimeout(cf.timeout))
	if o.BatchMaxBytes > 0 {
		popts = append(popts, kgo.ProducerBatchMaxBytes(o.BatchMaxBytes))
	}
	if o.MaxBuffered > 0 {
		popts = append(popts, kgo.MaxBufferedRecords(o.MaxBuffered))
	}
	cl, err := cf.client(popts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := ensureTopic(ctx, cf, adm, o.Topic, o.Partitions, o.ReplicationFactor, o.Progress); err != nil {
		return nil, err
	}

	// One payload for every record, like kafka-producer-perf-test: random
	// letters, so compression has something to do but not everything.
	payload := make([]byte, o.RecordSize)
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	for i := range payload {
		payload[i] = byte('A' + rng.IntN(26))
	}

	var (
		sent, acked, failed atomic.Int64
		ackedBytes          atomic.Int64
		mu                  sync.Mutex
		hist                = new(histogram)
		firstErr            error
		pool                = sync.Pool{New: func() any { return new(benchRecord) }}
	)
	promise := func(r *kgo.Record, err error) {
		br := (*benchRecord)(unsafe.Pointer(r))
		lat := time.Since(br.start)
		if err != nil {
			failed.Add(1)
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		} else {
			acked.Add(1)
			ackedBytes.Add(int64(len(r.Value)))
			mu.Lock()
			hist.recordDuration(lat)
			mu.Unlock()
		}
		*br = benchRecord{}
		pool.Put(br)
	}

	start := time.Now()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if o.Progress == nil {
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		lastAcked, lastT := int64(0), start
		for {
			select {
			case <-stopProgress:
				return
			case now := <-t.C:
				a := acked.Load()
				dt := now.Sub(lastT).Seconds()
				rps := float64(a-lastAcked) / dt
				fmt.Fprintf(o.Progress, "%6.1f s  %10.0f records/s  %8.2f MiB/s  in-flight %7d  acked %10d  failed %d\n",
					now.Sub(start).Seconds(), rps, rps*float64(o.RecordSize)/(1<<20),
					sent.Load()-a-failed.Load(), a, failed.Load())
				lastAcked, lastT = a, now
			}
		}
	}()

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Second / time.Duration(o.Rate)
	}
	for i := int64(0); o.Records == 0 || i < o.Records; i++ {
		if i&63 == 0 || interval > 0 {
			if ctx.Err() != nil {
				break
			}
			now := time.Now()
			if !deadline.IsZero() && !now.Before(deadline) {
				break
			}
			if interval > 0 {
				// Pace against the schedule, not the last send, so
				// sleeping late does not lower the rate.
				if due := start.Add(time.Duration(i) * interval); due.Sub(now) > 500*time.Microsecond {
					select {
					case <-time.After(due.Sub(now)):
					case <-ctx.Done():
					}
				}
			}
		}
		br := pool.Get().(*benchRecord)
		br.rec.Value = payload
		br.start = time.Now()
		sent.Add(1)
		cl.Produce(pctx, &br.rec, promise)
	}
	// Wait for every outstanding record. A cancelled ctx (Ctrl-C) aborts
	// the wait; kgo then fails the rest, which the report counts.
	if err := cl.Flush(ctx); err != nil {
		cancel()
		cl.Flush(context.Background())
	}
	elapsed := time.Since(start)
	close(stopProgress)
	<-progressDone

	mu.Lock()
	defer mu.Unlock()
	res := &ProduceBenchResult{
		Topic: o.Topic, RecordSize: o.RecordSize, Acks: o.Acks, Idempotent: o.Idempotent,
		Compression: o.Compression, TargetRate: o.Rate,
		Sent: sent.Load(), Acked: acked.Load(), Failed: failed.Load(), Bytes: ackedBytes.Load(),
		ElapsedSeconds: elapsed.Seconds(),
		Latency:        latencyReport(hist),
	}
	if s := elapsed.Seconds(); s > 0 {
		res.RecordsPerSec = float64(res.Acked) / s
		res.MiBPerSec = float64(res.Bytes) / (1 << 20) / s
	}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	return res, nil
}

// ConsumeBenchOptions configures a consume run.
type ConsumeBenchOptions struct {
	Topic             string
	Records           int64 // stop after this many (0: at the end offsets seen at start)
	FetchMaxBytes     int32
	PartitionMaxBytes int32
	IdleTimeout       time.Duration // give up after no records for this long
	Progress          io.Writer     // a line per second; nil for none
}

// ConsumeBenchResult is the report of a consume run (the --json output).
type ConsumeBenchResult struct {
	Topic          string  `json:"topic"`
	Partitions     int     `json:"partitions"`
	Records        int64   `json:"records"`
	Bytes          int64   `json:"bytes"`
	ElapsedSeconds float64 `json:"elapsed_s"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	MiBPerSec      float64 `json:"mib_per_sec"`
	Complete       bool    `json:"complete"` // reached the target
}

func benchConsumeCmd(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "bench consume", "chronik bench consume --topic T [--records N] [flags]", `
Reads every partition of the topic from its start (no consumer group) until
--records records, or until it has read up to the end offsets the topic had
when the run started, and reports records/s and MiB/s (keys and values).`)
	cf := c.clientFlags()
	var o ConsumeBenchOptions
	var jsonOut bool
	var fetchMax, partMax int
	c.fs.StringVar(&o.Topic, "topic", "chronik-bench", "topic to read")
	c.fs.Int64Var(&o.Records, "records", 0, "records to read (0: up to the end offsets at start)")
	c.fs.IntVar(&fetchMax, "fetch-max-bytes", 0, "fetch.max.bytes (0: kgo's default, 50 MiB)")
	c.fs.IntVar(&partMax, "partition-max-bytes", 0, "max.partition.fetch.bytes (0: kgo's default, 1 MiB)")
	c.fs.DurationVar(&o.IdleTimeout, "idle-timeout", 10*time.Second, "stop when no record arrives for this long")
	c.fs.BoolVar(&jsonOut, "json", false, "print the report as JSON on stdout")
	var quiet bool
	c.fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return c.usagef("unexpected arguments %q", pos)
	}
	o.FetchMaxBytes, o.PartitionMaxBytes = int32(fetchMax), int32(partMax)
	if !quiet {
		o.Progress = env.Stderr
	}
	res, err := benchConsume(ctx, cf, o)
	if err != nil {
		return err
	}
	if jsonOut {
		if err := json.NewEncoder(env.Stdout).Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.Stdout, "topic %s, %d partitions: %d records, %.2f MiB in %.2f s\n",
			res.Topic, res.Partitions, res.Records, float64(res.Bytes)/(1<<20), res.ElapsedSeconds)
		fmt.Fprintf(env.Stdout, "throughput: %.0f records/s, %.2f MiB/s\n", res.RecordsPerSec, res.MiBPerSec)
	}
	if !res.Complete {
		fmt.Fprintf(env.Stderr, "chronik bench consume: stopped before the target (no records for %v)\n", o.IdleTimeout)
		return exitError(ExitFail)
	}
	return nil
}

// benchConsume reads the topic from the start, partition by partition.
func benchConsume(ctx context.Context, cf *clientFlags, o ConsumeBenchOptions) (*ConsumeBenchResult, error) {
	adm, err := cf.admin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	starts, ends, err := listOffsets(ctx, cf, adm, o.Topic)
	if err != nil {
		return nil, err
	}
	// Partitions still to read, and where each one is done.
	target := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	var want int64
	for p, end := range ends[o.Topic] {
		start := starts[o.Topic][p]
		parts[p] = kgo.NewOffset().At(start)
		if end > start {
			target[p] = end
			want += end - start
		}
	}
	if o.Records > 0 {
		want = o.Records
	}
	res := &ConsumeBenchResult{Topic: o.Topic, Partitions: len(parts)}
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: parts})}
	if o.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(o.FetchMaxBytes))
	}
	if o.PartitionMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(o.PartitionMaxBytes))
	}
	cl, err := cf.client(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	start := time.Now()
	lastRecord, lastProgress, lastCount := start, start, int64(0)
	done := func() bool {
		if o.Records > 0 {
			return res.Records >= o.Records
		}
		return len(target) == 0
	}
	for !done() && want > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			break
		}
		n := int64(0)
		if err := fetchErr(fs); err != nil {
			return nil, err
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, r := range fp.Records {
				if o.Records > 0 && res.Records+n >= o.Records {
					return // count exactly --records
				}
				n++
				res.Bytes += int64(len(r.Key) + len(r.Value))
				if end, ok := target[fp.Partition]; ok && r.Offset+1 >= end {
					delete(target, fp.Partition)
				}
			}
		})
		res.Records += n
		now := time.Now()
		if o.Progress != nil && now.Sub(lastProgress) >= time.Second {
			rps := float64(res.Records-lastCount) / now.Sub(lastProgress).Seconds()
			fmt.Fprintf(o.Progress, "%6.1f s  %10.0f records/s  consumed %10d of %d\n", now.Sub(start).Seconds(), rps, res.Records, want)
			lastProgress, lastCount = now, res.Records
		}
		if n > 0 {
			lastRecord = now
		} else if now.Sub(lastRecord) > o.IdleTimeout {
			break
		}
	}
	elapsed := time.Since(start)
	res.ElapsedSeconds = elapsed.Seconds()
	res.Complete = done() || want == 0
	if s := elapsed.Seconds(); s > 0 {
		res.RecordsPerSec = float64(res.Records) / s
		res.MiBPerSec = float64(res.Bytes) / (1 << 20) / s
	}
	return res, nil
}

// fetchErr returns the first fetch error that is not a poll timeout.
func fetchErr(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(t string, p int32, err error) {
		if first != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		if t != "" {
			first = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
		} else {
			first = err
		}
	})
	return first
}

// listOffsets returns the start and end offsets of every partition of the
// topics, failing clearly if one does not exist.
func listOffsets(ctx context.Context, cf *clientFlags, adm *kadm.Client, topics ...string) (starts, ends map[string]map[int32]int64, err error) {
	rctx, cancel := cf.reqCtx(ctx)
	defer cancel()
	get := func(list func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[string]map[int32]int64, error) {
		lo, err := list(rctx, topics...)
		if err != nil {
			return nil, cf.connErr(err)
		}
		out := map[string]map[int32]int64{}
		var errs []string
		lo.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				if o.Partition < 0 {
					errs = append(errs, fmt.Sprintf("topic %s: %v", o.Topic, o.Err))
				} else {
					errs = append(errs, fmt.Sprintf("%s[%d]: %v", o.Topic, o.Partition, o.Err))
				}
				return
			}
			if out[o.Topic] == nil {
				out[o.Topic] = map[int32]int64{}
			}
			out[o.Topic][o.Partition] = o.Offset
		})
		if len(errs) > 0 {
			return nil, errors.New(strings.Join(errs, "; "))
		}
		for _, t := range topics {
			if len(lo[t]) == 0 {
				return nil, fmt.Errorf("topic %s: %w", t, kerr.UnknownTopicOrPartition)
			}
		}
		return out, nil
	}
	if starts, err = get(adm.ListStartOffsets); err != nil {
		return nil, nil, err
	}
	if ends, err = get(adm.ListEndOffsets); err != nil {
		return nil, nil, err
	}
	return starts, ends, nil
}
