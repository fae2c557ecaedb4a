package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

func produceCmd(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "produce", "chronik produce TOPIC [flags] < lines", `
Each line of stdin becomes one record (the trailing newline, and a \r before
it, are not part of it). With --key-separator, the text before the first
separator is the key and the rest the value; a line without the separator
has a null key. Exits once every record is acknowledged; prints the count
on stderr.`)
	cf := c.clientFlags()
	var (
		topic, keySep, acks, compression string
		headers                          stringsFlag
		partition                        int
		idempotent                       bool
		maxLine                          int
	)
	c.fs.StringVar(&topic, "topic", "", "topic (or the first argument)")
	c.fs.StringVar(&topic, "t", "", "shorthand for --topic")
	c.fs.StringVar(&keySep, "key-separator", "", "split each line into key and value at the first occurrence of this")
	c.fs.StringVar(&keySep, "K", "", "shorthand for --key-separator")
	c.fs.Var(&headers, "headers", "record header key=value added to every record (repeatable)")
	c.fs.Var(&headers, "H", "shorthand for --headers")
	c.fs.IntVar(&partition, "partition", -1, "partition to write to (-1: by key hash, or spread when there is no key)")
	c.fs.IntVar(&partition, "p", -1, "shorthand for --partition")
	c.fs.StringVar(&acks, "acks", "all", "all, 1 or 0")
	c.fs.BoolVar(&idempotent, "idempotent", true, "idempotent producer (needs --acks all; off by default with other acks)")
	c.fs.StringVar(&compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	c.fs.IntVar(&maxLine, "max-line-bytes", 16<<20, "longest line accepted")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if topic == "" && len(pos) > 0 {
		topic, pos = pos[0], pos[1:]
	}
	if topic == "" {
		return c.usagef("missing topic")
	}
	if len(pos) > 0 {
		return c.usagef("unexpected arguments %q", pos)
	}
	var hdrs []kgo.RecordHeader
	for _, h := range headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return c.usagef("--headers %q: want key=value", h)
		}
		hdrs = append(hdrs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	if !c.set("idempotent") && acks != "all" && acks != "-1" {
		idempotent = false
	}
	opts, err := producerOpts(acks, idempotent, compression, 0, 0)
	if err != nil {
		return c.usagef("%v", err)
	}
	opts = append(opts, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(), kgo.ProduceRequestTimeout(cf.timeout))
	if partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := cf.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	var (
		acked, failed atomic.Int64
		mu            sync.Mutex
		firstErr      error
	)
	promise := func(r *kgo.Record, err error) {
		if err == nil {
			acked.Add(1)
			return
		}
		failed.Add(1)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	sc := bufio.NewScanner(env.Stdin)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	sep := []byte(keySep)
	n := 0
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		r := &kgo.Record{Partition: int32(partition), Headers: hdrs}
		if len(sep) > 0 {
			if k, v, ok := bytes.Cut(line, sep); ok {
				r.Key = bytes.Clone(k)
				line = v
			}
		}
		r.Value = bytes.Clone(line)
		cl.Produce(ctx, r, promise)
		n++
		if ctx.Err() != nil {
			break
		}
	}
	scanErr := sc.Err()
	if errors.Is(scanErr, bufio.ErrTooLong) {
		scanErr = fmt.Errorf("line %d is longer than --max-line-bytes %d", n+1, maxLine)
	}
	if err := cl.Flush(ctx); err != nil && scanErr == nil {
		scanErr = err
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(env.Stderr, "produced %s to %s", plural(int(acked.Load()), "record", "records"), topic)
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(env.Stderr, ", %d failed", f)
	}
	fmt.Fprintln(env.Stderr)
	if firstErr != nil {
		return fmt.Errorf("produce to %s: %w", topic, firstErr)
	}
	if scanErr != nil {
		return fmt.Errorf("reading stdin: %w", scanErr)
	}
	return nil
}
