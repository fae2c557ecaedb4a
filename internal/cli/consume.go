package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupKeys are the APIs a classic consumer group needs.
var groupKeys = []kmsg.Key{kmsg.FindCoordinator, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup, kmsg.OffsetCommit, kmsg.OffsetFetch}

func consumeCmd(ctx context.Context, env Env, args []string) error {
	c := newCommand(env, "consume", "chronik consume TOPIC [flags]", `
Prints the records of a topic, by default every partition from the start,
each as --format says. Without --group it reads partitions directly; with
--group it joins that consumer group, starts from the group's committed
offsets (--from applies to partitions without one) and commits what it
printed.

--format directives (as kcat's): %t topic, %p partition, %o offset,
%k key, %v value, %K key length, %S value length (-1 when null),
%T timestamp (ms), %h headers as k=v,k=v, %% a percent sign; escapes
\n \t \r \\.`)
	cf := c.clientFlags()
	var (
		topic, from, groupID, format string
		partition                    int
		maxMessages                  int64
		exitAtEnd                    bool
	)
	c.fs.StringVar(&topic, "topic", "", "topic (or the first argument)")
	c.fs.StringVar(&topic, "t", "", "shorthand for --topic")
	c.fs.StringVar(&from, "from", "earliest", "where to start: earliest, latest, an offset, or -N for N before the end")
	c.fs.StringVar(&from, "o", "earliest", "shorthand for --from")
	c.fs.IntVar(&partition, "partition", -1, "read only this partition (-1: all)")
	c.fs.IntVar(&partition, "p", -1, "shorthand for --partition")
	c.fs.StringVar(&groupID, "group", "", "consume as a member of this consumer group")
	c.fs.StringVar(&groupID, "G", "", "shorthand for --group")
	c.fs.Int64Var(&maxMessages, "max-messages", 0, "exit after printing this many records (0: no limit)")
	c.fs.Int64Var(&maxMessages, "c", 0, "shorthand for --max-messages")
	c.fs.StringVar(&format, "format", `%v\n`, "output format of each record")
	c.fs.StringVar(&format, "f", `%v\n`, "shorthand for --format")
	c.fs.BoolVar(&exitAtEnd, "exit-at-end", false, "exit at the end offsets the partitions had when we started")
	c.fs.BoolVar(&exitAtEnd, "e", false, "shorthand for --exit-at-end")
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
	fmtr, err := parseFormat(format)
	if err != nil {
		return c.usagef("--format: %v", err)
	}
	start, err := parseFrom(from)
	if err != nil {
		return c.usagef("%v", err)
	}
	if groupID != "" && partition >= 0 {
		return c.usagef("--partition and --group exclude each other: the group assigns partitions")
	}
	return consume(ctx, env, cf, consumeOptions{
		topic: topic, from: start, partition: int32(partition), group: groupID,
		max: maxMessages, exitAtEnd: exitAtEnd, format: fmtr,
	})
}

// startPos is a parsed --from.
type startPos struct {
	kind   string // "earliest", "latest", "offset", "tail"
	offset int64  // the offset, or N of -N
}

func parseFrom(s string) (startPos, error) {
	switch s {
	case "earliest", "beginning", "start":
		return startPos{kind: "earliest"}, nil
	case "latest", "end":
		return startPos{kind: "latest"}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return startPos{}, fmt.Errorf("--from %q: want earliest, latest, an offset or -N", s)
	}
	if n < 0 {
		return startPos{kind: "tail", offset: -n}, nil
	}
	return startPos{kind: "offset", offset: n}, nil
}

// resolve is the offset to start at in a partition with these bounds,
// clamped into them.
func (s startPos) resolve(start, end int64) int64 {
	var o int64
	switch s.kind {
	case "earliest":
		o = start
	case "latest":
		o = end
	case "tail":
		o = end - s.offset
	default:
		o = s.offset
	}
	return min(max(o, start), end)
}

// kgoOffset is the reset offset a group uses without a commit.
func (s startPos) kgoOffset() kgo.Offset {
	switch s.kind {
	case "earliest":
		return kgo.NewOffset().AtStart()
	case "latest":
		return kgo.NewOffset().AtEnd()
	case "tail":
		return kgo.NewOffset().AtEnd().Relative(-s.offset)
	}
	return kgo.NewOffset().At(s.offset)
}

type consumeOptions struct {
	topic     string
	from      startPos
	partition int32
	group     string
	max       int64
	exitAtEnd bool
	format    recordFormat
}

func consume(ctx context.Context, env Env, cf *clientFlags, o consumeOptions) error {
	adm, err := cf.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	starts, ends, err := listOffsets(ctx, cf, adm, o.topic)
	if err != nil {
		return err
	}
	if o.partition >= 0 {
		if _, ok := ends[o.topic][o.partition]; !ok {
			return fmt.Errorf("topic %s has no partition %d", o.topic, o.partition)
		}
	}

	// Where each partition starts, and so whether it still has records
	// below the end offsets we saw (for --exit-at-end).
	pending := map[int32]int64{} // partition -> end offset still to reach
	opts := []kgo.Opt{}
	if o.group == "" {
		parts := map[int32]kgo.Offset{}
		for p, end := range ends[o.topic] {
			if o.partition >= 0 && p != o.partition {
				continue
			}
			at := o.from.resolve(starts[o.topic][p], end)
			if o.from.kind == "offset" && at != o.from.offset {
				fmt.Fprintf(env.Stderr, "partition %d: offset %d is outside [%d, %d]; starting at %d\n",
					p, o.from.offset, starts[o.topic][p], end, at)
			}
			parts[p] = kgo.NewOffset().At(at)
			if at < end {
				pending[p] = end
			}
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.topic: parts}))
	} else {
		rctx, cancel := cf.reqCtx(ctx)
		err := requireAPI(rctx, adm, "cannot consume with --group (the broker lacks consumer groups; consume without --group)", groupKeys...)
		var committed kadm.OffsetResponses
		if err == nil && o.exitAtEnd {
			committed, err = adm.FetchOffsets(rctx, o.group)
			err = explain(err)
		}
		cancel()
		if err != nil {
			return cf.connErr(err)
		}
		for p, end := range ends[o.topic] {
			at := o.from.resolve(starts[o.topic][p], end)
			if c, ok := committed.Lookup(o.topic, p); ok && c.Err == nil && c.At >= 0 {
				at = c.At
			}
			if at < end {
				pending[p] = end
			}
		}
		// AutoCommitMarks: only records we mark (printed ones) are
		// committed, never what was polled past --max-messages.
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.ConsumeTopics(o.topic),
			kgo.ConsumeResetOffset(o.from.kgoOffset()), kgo.AutoCommitMarks())
	}
	if o.exitAtEnd && len(pending) == 0 {
		return nil
	}
	cl, err := cf.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	w := bufio.NewWriterSize(env.Stdout, 64<<10)
	defer w.Flush()
	var printed int64
	var buf []byte
	for {
		if o.max > 0 && printed >= o.max {
			break
		}
		if o.exitAtEnd && len(pending) == 0 {
			break
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			break
		}
		if err := fetchErr(fs); err != nil {
			w.Flush()
			return err
		}
		var stop bool
		fs.EachRecord(func(r *kgo.Record) {
			if stop {
				return
			}
			if o.max > 0 && printed >= o.max {
				stop = true
				return
			}
			buf = o.format.append(buf[:0], r)
			w.Write(buf)
			printed++
			if o.group != "" {
				cl.MarkCommitRecords(r)
			}
			if end, ok := pending[r.Partition]; ok && r.Offset+1 >= end {
				delete(pending, r.Partition)
			}
		})
		if err := w.Flush(); err != nil {
			return err // stdout closed (e.g. | head): nothing more to do
		}
		if stop {
			break
		}
	}
	if o.group != "" {
		// Commit what we printed: up to the last printed record of each
		// partition. Polled but unprinted records (past --max-messages)
		// are not marked.
		cctx, cancel := context.WithTimeout(context.Background(), cf.timeout)
		defer cancel()
		if err := cl.CommitMarkedOffsets(cctx); err != nil {
			return fmt.Errorf("commit offsets of group %s: %w", o.group, err)
		}
	}
	return nil
}

// recordFormat is a compiled --format.
type recordFormat []formatPart

type formatPart struct {
	lit  string
	verb byte // 0 for a literal
}

func parseFormat(s string) (recordFormat, error) {
	var out recordFormat
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, formatPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '%':
			if i+1 == len(s) {
				return nil, errors.New("ends with a lone %")
			}
			i++
			switch v := s[i]; v {
			case '%':
				lit.WriteByte('%')
			case 't', 'p', 'o', 'k', 'v', 'K', 'S', 'T', 'h':
				flush()
				out = append(out, formatPart{verb: v})
			default:
				return nil, fmt.Errorf("unknown directive %%%c", v)
			}
		case '\\':
			if i+1 == len(s) {
				lit.WriteByte('\\')
				continue
			}
			i++
			switch e := s[i]; e {
			case 'n':
				lit.WriteByte('\n')
			case 't':
				lit.WriteByte('\t')
			case 'r':
				lit.WriteByte('\r')
			case '\\':
				lit.WriteByte('\\')
			default:
				lit.WriteByte('\\')
				lit.WriteByte(e)
			}
		default:
			lit.WriteByte(ch)
		}
	}
	flush()
	return out, nil
}

func (f recordFormat) append(b []byte, r *kgo.Record) []byte {
	for _, p := range f {
		switch p.verb {
		case 0:
			b = append(b, p.lit...)
		case 't':
			b = append(b, r.Topic...)
		case 'p':
			b = strconv.AppendInt(b, int64(r.Partition), 10)
		case 'o':
			b = strconv.AppendInt(b, r.Offset, 10)
		case 'k':
			b = append(b, r.Key...)
		case 'v':
			b = append(b, r.Value...)
		case 'K':
			b = strconv.AppendInt(b, nullableLen(r.Key), 10)
		case 'S':
			b = strconv.AppendInt(b, nullableLen(r.Value), 10)
		case 'T':
			b = strconv.AppendInt(b, r.Timestamp.UnixMilli(), 10)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, h.Key...)
				b = append(b, '=')
				b = append(b, h.Value...)
			}
		}
	}
	return b
}

func nullableLen(b []byte) int64 {
	if b == nil {
		return -1
	}
	return int64(len(b))
}
