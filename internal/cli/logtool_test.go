package cli

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/broker"
)

var (
	logDataOnce sync.Once
	logDataDir  string
	logDataErr  error
)

// logData returns a data directory written by a real broker and closed
// cleanly: topic "t" with two partitions in several small segments (with
// offset and time index entries), plain and zstd batches from an
// idempotent producer, and a group's committed offsets (__groups). Tests
// copy it before damaging it.
func logData(t *testing.T) string {
	t.Helper()
	logDataOnce.Do(func() {
		logDataDir, logDataErr = os.MkdirTemp("", "chronik-logtool-")
		if logDataErr != nil {
			return
		}
		logDataErr = writeLogData(t, logDataDir)
	})
	if logDataErr != nil {
		t.Fatalf("building the test data directory: %v", logDataErr)
	}
	return logDataDir
}

func writeLogData(t *testing.T, dir string) error {
	b, _ := startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	addr := b.Addr()
	if r := run(t, "", on(addr, "topic", "create", "t", "--partitions", "2",
		"--config", "internal.segment.bytes=4096", "--config", "index.interval.bytes=200")...); r.code != 0 {
		return fmt.Errorf("create: %s", r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.ZstdCompression()} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("t"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(0))
		if err != nil {
			return err
		}
		for i := 0; i < 40; i++ {
			var recs []*kgo.Record
			for j := 0; j < 4; j++ {
				n := i*4 + j
				recs = append(recs, &kgo.Record{Partition: int32(n % 2), Key: fmt.Appendf(nil, "k%d", n),
					Value: fmt.Appendf(nil, "v%d-%s", n, strings.Repeat("x", 60)), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("1")}}})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				cl.Close()
				return err
			}
			time.Sleep(2 * time.Millisecond) // distinct timestamps: time index entries
		}
		cl.Close()
	}
	if r := run(t, "", on(addr, "consume", "t", "--group", "g", "-e", "-c", "5")...); r.code != 0 {
		return fmt.Errorf("group consume: %s", r.stderr)
	}
	return b.Close()
}

// copyDir copies the tree at src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// segments lists the base offsets of a partition directory's segments.
func segments(t *testing.T, dir string) []int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, e := range ents {
		if off, ok := parseSegName(e.Name(), segLogSuffix); ok {
			out = append(out, off)
		}
	}
	slices.Sort(out)
	return out
}

func TestLogVerifyClean(t *testing.T) {
	t.Parallel()
	dir := logData(t)
	r := mustRun(t, "", "log", "verify", dir, "--deep")
	if !strings.Contains(r.stdout, "no problems") || !strings.Contains(r.stdout, "t-0: ") || !strings.Contains(r.stdout, "t-1: ") {
		t.Errorf("verify:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, filepath.Join("__groups", "offsets")+": ") {
		t.Errorf("verify did not check the group offsets log:\n%s", r.stdout)
	}
	if n := len(segments(t, filepath.Join(dir, "t-0"))); n < 3 {
		t.Fatalf("want several segments in t-0, have %d", n)
	}
	// A partition directory, and one segment file.
	mustRun(t, "", "log", "verify", filepath.Join(dir, "t-1"))
	r = mustRun(t, "", "log", "verify", filepath.Join(dir, "t-1", segName(0, segLogSuffix)))
	if !strings.Contains(r.stdout, "1 segment,") {
		t.Errorf("verify of one file:\n%s", r.stdout)
	}
	if r := run(t, "", "log", "verify", t.TempDir()); r.code != ExitFail || !strings.Contains(r.stderr, "no segment files") {
		t.Errorf("empty dir: exit %d %q", r.code, r.stderr)
	}
	if r := run(t, "", "log", "verify", filepath.Join(dir, "nope")); r.code != ExitFail {
		t.Errorf("missing dir: exit %d", r.code)
	}
}

// TestLogVerifyDamage damages a copy of a clean directory in one way per
// case and checks that verify reports it.
func TestLogVerifyDamage(t *testing.T) {
	t.Parallel()
	clean := logData(t)
	// Helpers over partition t-0 of a copy.
	file := func(dir string, base int64, suffix string) string {
		return filepath.Join(dir, "t-0", segName(base, suffix))
	}
	patch := func(t *testing.T, path string, fn func(b []byte) []byte) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, fn(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// secondBatch is the position of the second batch of a segment.
	secondBatch := func(b []byte) int { return int(binary.BigEndian.Uint32(b[8:])) + 12 }

	cases := []struct {
		name   string
		damage func(t *testing.T, dir string, segs []int64)
		want   string
	}{
		{"bit flip in a record", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[0], segLogSuffix), func(b []byte) []byte { b[secondBatch(b)+70] ^= 0x10; return b })
		}, "crc32c is"},
		{"torn last batch", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[len(segs)-1], segLogSuffix), func(b []byte) []byte { return b[:len(b)-7] })
		}, "torn write?"},
		{"torn header", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[len(segs)-1], segLogSuffix), func(b []byte) []byte { return append(b, 0, 0, 0, 0, 0, 0, 0, 1) })
		}, "too few for a batch header"},
		{"zeroed tail", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[len(segs)-1], segLogSuffix), func(b []byte) []byte { return append(b, make([]byte, 4096)...) })
		}, "the last 4096 bytes are zeroes"},
		{"offset gap inside a segment", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[0], segLogSuffix), func(b []byte) []byte {
				p := secondBatch(b)
				binary.BigEndian.PutUint64(b[p:], binary.BigEndian.Uint64(b[p:])+1) // outside the CRC
				return b
			})
		}, "offsets must continue the log"},
		{"missing segment", func(t *testing.T, dir string, segs []int64) {
			for _, suf := range []string{segLogSuffix, segIndexSuffix, segTimeIndexSuffix} {
				os.Remove(file(dir, segs[1], suf))
			}
		}, "are missing"},
		{"index entry off a batch start", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[0], segIndexSuffix), func(b []byte) []byte { b[7]++; return b })
		}, "does not point at the start of a batch"},
		{"index entry with a wrong offset", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[0], segIndexSuffix), func(b []byte) []byte { b[3]++; return b })
		}, "points at the batch of base offset"},
		{"torn index", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[0], segIndexSuffix), func(b []byte) []byte { return append(b, 1, 2, 3) })
		}, "torn last entry"},
		{"missing index", func(t *testing.T, dir string, segs []int64) {
			os.Remove(file(dir, segs[0], segIndexSuffix))
		}, segName(segs0(t, clean), segIndexSuffix) + ": missing"},
		{"time index out of order", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[0], segTimeIndexSuffix), func(b []byte) []byte {
				if len(b) < 2*timeEntryWidth {
					t.Skip("time index with fewer than 2 entries")
				}
				e0 := slices.Clone(b[:timeEntryWidth])
				copy(b, b[timeEntryWidth:2*timeEntryWidth])
				copy(b[timeEntryWidth:], e0)
				return b
			})
		}, "does not grow"},
		{"time index with a wrong timestamp", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[0], segTimeIndexSuffix), func(b []byte) []byte {
				binary.BigEndian.PutUint64(b, binary.BigEndian.Uint64(b)-1)
				return b
			})
		}, "but that batch's max timestamp is"},
		{"time index without its final entry", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[0], segTimeIndexSuffix), func(b []byte) []byte { return b[:len(b)-timeEntryWidth] })
		}, "the last entry should hold the segment's largest timestamp"},
		{"recovery point checksum", func(t *testing.T, dir string, segs []int64) {
			patch(t, filepath.Join(dir, "t-0", recoveryPointFile), func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
		}, "recovery-point: checksum mismatch"},
		{"recovery point past the data", func(t *testing.T, dir string, segs []int64) {
			patch(t, file(dir, segs[len(segs)-1], segLogSuffix), func(b []byte) []byte { return b[:secondBatch(b)] })
		}, "acknowledged data may be lost"},
		{"producer snapshot checksum", func(t *testing.T, dir string, segs []int64) {
			ents, _ := os.ReadDir(filepath.Join(dir, "t-0"))
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), segSnapshotSuffix) {
					patch(t, filepath.Join(dir, "t-0", e.Name()), func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
					return
				}
			}
			t.Skip("no producer snapshot")
		}, ".snapshot: checksum mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, clean)
			c.damage(t, dir, segments(t, filepath.Join(dir, "t-0")))
			r := run(t, "", "log", "verify", dir)
			if r.code != ExitFail || !strings.Contains(r.stdout, c.want) || !strings.Contains(r.stdout, "PROBLEM") {
				t.Errorf("exit %d, want 1 and a problem with %q:\n%s%s", r.code, c.want, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "t-1: ") || strings.Contains(strings.SplitAfter(r.stdout, "t-1: ")[1], "PROBLEM") {
				t.Errorf("damage to t-0 reported on t-1:\n%s", r.stdout)
			}
		})
	}
}

func segs0(t *testing.T, dir string) int64 { return segments(t, filepath.Join(dir, "t-0"))[0] }

func TestLogDump(t *testing.T) {
	t.Parallel()
	dir := logData(t)
	r := mustRun(t, "", "log", "dump", filepath.Join(dir, "t-0"), "--records", "--indexes", "--max-bytes", "10")
	for _, want := range []string{
		"Dumping ", "baseOffset: 0 lastOffset: 1 count: 2 baseSequence: 0 lastSequence: 1 producerId: ",
		"compresscodec: none", "compresscodec: zstd", "isvalid: true",
		"| offset: 0 CreateTime: ", "keySize: 2 valueSize: 63 sequence: 0 headerKeys: [h] key: k0 payload: v0-xxxxxxx...(53 more bytes)",
		"offset index 00000000000000000000.index: ", "time index 00000000000000000000.timeindex: ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("dump:\n%s", r.stdout)
	}
	// Every record of the partition, once.
	if n := strings.Count(r.stdout, "| offset: "); n != 160 {
		t.Errorf("dump shows %d records, want 160", n)
	}

	// A damaged copy: the bad batch is flagged and the dump stops at the
	// broken framing.
	cp := copyDir(t, dir)
	segs := segments(t, filepath.Join(cp, "t-0"))
	path := filepath.Join(cp, "t-0", segName(segs[0], segLogSuffix))
	b, _ := os.ReadFile(path)
	b[100] ^= 1
	os.WriteFile(path, append(b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0o644)
	r = mustRun(t, "", "log", "dump", path)
	if !strings.Contains(r.stdout, "isvalid: false") || !strings.Contains(r.stdout, "cannot read further: position") {
		t.Errorf("dump of a damaged segment:\n%s", r.stdout)
	}
}
