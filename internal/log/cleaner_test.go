package log

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// kv is a record of the compaction model; a nil value is a tombstone.
type kv struct {
	off        int64
	key, value []byte
	ts         int64
}

// keyedBatch builds a batch of recs (offsets and timestamps relative to the
// first) as a producer would.
func keyedBatch(t testing.TB, codec records.Codec, pid int64, seq int32, recs []kv) []byte {
	t.Helper()
	rs := make([]records.Record, len(recs))
	for i, r := range recs {
		rs[i] = records.Record{OffsetDelta: int32(i), TimestampDelta: r.ts - recs[0].ts, Key: r.key, Value: r.value}
		if i%3 == 1 {
			rs[i].Headers = []records.RecordHeader{{Key: "h", Value: []byte{byte(i)}}}
		}
	}
	opts := records.BuildOptions{Codec: codec, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: recs[0].ts}
	if pid >= 0 {
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = pid, 0, seq
	}
	b, err := records.Build(opts, rs)
	must(t, err)
	return b
}

// readAllRecords reads the whole log below the HW, checking that every
// batch is whole, CRC-valid and in offset order, and returns its records.
func readAllRecords(t testing.TB, p *Partition) []kv {
	t.Helper()
	ls, hw, _ := p.Offsets()
	var out []kv
	next, prev := ls, int64(-1)
	for next < hw {
		rr, err := p.Read(next, 1<<20, true)
		if err != nil {
			t.Fatalf("read at %d: %v", next, err)
		}
		if len(rr.Records) == 0 {
			t.Fatalf("no records at %d below the HW %d", next, hw)
		}
		err = records.Split(rr.Records, func(h records.Header, b []byte) error {
			if err := records.CheckCRC(b); err != nil {
				return err
			}
			if h.BaseOffset <= prev {
				return fmt.Errorf("batch at %d after offset %d", h.BaseOffset, prev)
			}
			_, err := records.Iterate(b, 0, func(r *records.Record) error {
				off := h.BaseOffset + int64(r.OffsetDelta)
				if off <= prev {
					return fmt.Errorf("offset %d after %d", off, prev)
				}
				prev = off
				if off >= ls {
					out = append(out, kv{off: off, key: bytes.Clone(r.Key), value: cloneNullable(r.Value), ts: h.BaseTimestamp + r.TimestampDelta})
				}
				return nil
			})
			if err != nil {
				return err
			}
			prev = max(prev, h.LastOffset())
			next = h.LastOffset() + 1
			return nil
		})
		if err != nil {
			t.Fatalf("reading at %d: %v", next, err)
		}
	}
	return out
}

func cloneNullable(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// compactionModel is every record appended, in offset order.
type compactionModel struct {
	recs []kv
}

func (m *compactionModel) latest() map[string]kv {
	out := map[string]kv{}
	for _, r := range m.recs {
		out[string(r.key)] = r
	}
	return out
}

// check verifies the log against the model after a cleaning that mapped
// every offset below cleanedTo: kept records are the model's, at their
// offsets; below cleanedTo no key has a record older than another of its
// records there; every key's latest record is present (tombstones while
// tombstonesKept); everything from cleanedTo on is present.
func (m *compactionModel) check(t *testing.T, got []kv, cleanedTo int64, tombstonesKept bool) {
	t.Helper()
	byOff := make(map[int64]kv, len(m.recs))
	for _, r := range m.recs {
		byOff[r.off] = r
	}
	present := map[int64]bool{}
	lastBelow := map[string]int64{} // latest model offset of each key below cleanedTo
	for _, r := range m.recs {
		if r.off < cleanedTo {
			lastBelow[string(r.key)] = r.off
		}
	}
	for _, g := range got {
		w, ok := byOff[g.off]
		if !ok || !bytes.Equal(w.key, g.key) || !bytes.Equal(w.value, g.value) || (w.value == nil) != (g.value == nil) || w.ts != g.ts {
			t.Fatalf("offset %d: got key %q value %q ts %d, model has %q %q %d (found %v)", g.off, g.key, g.value, g.ts, w.key, w.value, w.ts, ok)
		}
		present[g.off] = true
		if g.off < cleanedTo && lastBelow[string(g.key)] != g.off {
			t.Fatalf("offset %d: key %q has a newer record at %d below the cleaned offset %d", g.off, g.key, lastBelow[string(g.key)], cleanedTo)
		}
	}
	for k, r := range m.latest() {
		if !present[r.off] && (r.value != nil || tombstonesKept) {
			t.Fatalf("latest record of key %q at %d is gone", k, r.off)
		}
	}
	for _, r := range m.recs {
		if r.off >= cleanedTo && !present[r.off] {
			t.Fatalf("record at %d, above the cleaned offset %d, is gone", r.off, cleanedTo)
		}
	}
}

// appendRandom appends a random batch of keyed records to p and the model.
func appendRandom(t *testing.T, rng *rand.Rand, p *Partition, m *compactionModel, now int64, keys int) {
	t.Helper()
	n := 1 + rng.IntN(5)
	recs := make([]kv, n)
	for i := range recs {
		recs[i] = kv{key: fmt.Appendf(nil, "key-%03d", rng.IntN(keys)), ts: now + int64(rng.IntN(50)) - 25}
		if rng.IntN(6) != 0 {
			recs[i].value = fmt.Appendf(nil, "value-%d-%s", rng.Int64(), strings.Repeat("x", rng.IntN(40)))
		}
	}
	codecs := []records.Codec{records.CodecNone, records.CodecNone, records.CodecGzip, records.CodecSnappy, records.CodecLZ4, records.CodecZstd}
	res := appendWait(t, p, keyedBatch(t, codecs[rng.IntN(len(codecs))], -1, 0, recs))
	for i := range recs {
		recs[i].off = res.BaseOffset + int64(i)
	}
	m.recs = append(m.recs, recs...)
}

// cleanAll cleans until a pass makes no progress and returns the passes.
func cleanAll(t *testing.T, p *Partition, c *cleaner) int {
	t.Helper()
	passes := 0
	for {
		ok, err := p.clean(c)
		if err != nil {
			t.Fatalf("clean: %v", err)
		}
		if !ok {
			return passes
		}
		passes++
		if passes > 10_000 {
			t.Fatal("cleaning does not converge")
		}
	}
}

// TestCompactionModel runs random workloads (keys, values, tombstones,
// every codec) with cleanings in between and checks the log against a
// model each time, then that tombstones go after delete.retention.ms, and
// that the result survives a restart that scans the cleaned segments and a
// power loss.
func TestCompactionModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int64
	}{
		{"big buffer", 1 << 20},
		{"tiny buffer", 5 * offsetMapSlotSize}, // 4 keys a pass
	} {
		for seed := uint64(0); seed < 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				t.Parallel()
				compactionRound(t, seed, tc.buffer)
			})
		}
	}
}

func compactionRound(t *testing.T, seed uint64, buffer int64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	fs := vfs.NewMemFS()
	clock := newTestClock(10_000_000)
	dir := "/data/t-0"
	cfg := Config{SegmentBytes: 1200, IndexIntervalBytes: 200, Compact: true, DeleteRetentionMs: 3_600_000}
	opts := Options{FS: fs, Logger: testLogger(t), Now: clock.Now}
	p, err := Open(dir, "t", 0, cfg, opts)
	must(t, err)
	c := newCleaner(buffer, nil, testLogger(t))
	var m compactionModel
	keys := 10 + rng.IntN(30)
	totalPasses := 0
	for round := 0; round < 12; round++ {
		for i := rng.IntN(25); i > 0; i-- {
			appendRandom(t, rng, p, &m, clock.Now().UnixMilli(), keys)
		}
		clock.advance(time.Duration(rng.IntN(1000)) * time.Millisecond)
		totalPasses += cleanAll(t, p, c)
		m.check(t, readAllRecords(t, p), p.maint.firstDirty.Load(), true)
	}
	if buffer < 1<<10 {
		if totalPasses < 10 {
			t.Fatalf("only %d passes with a tiny buffer", totalPasses)
		}
		if c.m.peak*offsetMapSlotSize > int(buffer) {
			t.Fatalf("map grew to %d slots, beyond the %d-byte buffer", c.m.peak, buffer)
		}
	}
	// Tombstones go after delete.retention.ms: the next pass gives those
	// it maps a horizon, a pass after the horizon drops them.
	big := newCleaner(1<<20, nil, testLogger(t))
	rollSome := func() {
		for n := len(segBases(p)); len(segBases(p)) < n+2; {
			appendRandom(t, rng, p, &m, clock.Now().UnixMilli(), keys+100)
		}
	}
	rollSome()
	cleanAll(t, p, big)
	horizonSet := p.maint.firstDirty.Load()
	m.check(t, readAllRecords(t, p), horizonSet, true)
	clock.advance(2 * time.Hour)
	rollSome()
	cleanAll(t, p, big)
	got := readAllRecords(t, p)
	m.check(t, got, p.maint.firstDirty.Load(), false)
	for _, r := range got {
		if r.value == nil && r.off < horizonSet {
			t.Fatalf("tombstone at %d survived its delete horizon", r.off)
		}
	}

	// A restart that scans the cleaned segments (gaps, emptied batches)
	// and a power loss give the same log.
	must(t, p.Close())
	must(t, fs.Remove(dir+"/"+recoveryFile))
	p, err = Open(dir, "t", 0, cfg, opts)
	must(t, err)
	if again := readAllRecords(t, p); !sameRecords(again, got) {
		t.Fatal("the log changed across a restart")
	}
	crashed := fs.Crash()
	p.Close()
	opts.FS = crashed
	p, err = Open(dir, "t", 0, cfg, opts)
	must(t, err)
	defer p.Close()
	if again := readAllRecords(t, p); !sameRecords(again, got) {
		t.Fatal("the log changed across a power loss")
	}
	// Still appendable, and time lookups see through gaps and empty batches.
	appendRandom(t, rng, p, &m, clock.Now().UnixMilli(), keys)
	if _, _, ok, err := p.OffsetForTimestamp(0); !ok || err != nil {
		t.Fatalf("offset for timestamp: %v %v", ok, err)
	}
	if _, _, ok, err := p.MaxTimestamp(); !ok || err != nil {
		t.Fatalf("max timestamp: %v %v", ok, err)
	}
}

func inRange(recs []kv, from, to int64) []kv {
	var out []kv
	for _, r := range recs {
		if r.off >= from && r.off < to {
			out = append(out, r)
		}
	}
	return out
}

func sameRecords(a, b []kv) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].off != b[i].off || !bytes.Equal(a[i].key, b[i].key) || !bytes.Equal(a[i].value, b[i].value) || a[i].ts != b[i].ts {
			return false
		}
	}
	return true
}

// TestCompactionCrashDuringSwap pulls the plug at every rename and
// directory fsync of a cleaning: each group of segments the cleaning
// rewrites recovers to either its old or its cleaned state, with no
// leftover files.
func TestCompactionCrashDuringSwap(t *testing.T) {
	dir := "/data/t-0"
	clock := newTestClock(10_000_000)
	cfg := Config{SegmentBytes: 800, IndexIntervalBytes: 100, Compact: true, DeleteRetentionMs: 1000}
	base := vfs.NewMemFS()
	p, err := Open(dir, "t", 0, cfg, Options{FS: base, Logger: testLogger(t), Now: clock.Now})
	must(t, err)
	rng := rand.New(rand.NewPCG(7, 7))
	var m compactionModel
	for i := 0; i < 25; i++ {
		appendRandom(t, rng, p, &m, clock.Now().UnixMilli(), 6)
	}
	oldState := readAllRecords(t, p)
	must(t, p.Close())

	// The uncrashed cleaning, counting the steps that matter.
	run := func(fs *vfs.MemFS) *Partition {
		p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t), Now: clock.Now})
		must(t, err)
		return p
	}
	fs := base.Crash()
	var steps int
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpRename || op == vfs.OpSyncDir {
			steps++
		}
		return nil
	})
	p = run(fs)
	steps = 0
	if ok, err := p.clean(newCleaner(1<<20, nil, testLogger(t))); !ok || err != nil {
		t.Fatalf("clean: %v %v", ok, err)
	}
	fs.SetHook(nil)
	cleanState := readAllRecords(t, p)
	groups := segBases(p) // each cleaned group is swapped in on its own
	must(t, p.Close())
	if sameRecords(cleanState, oldState) {
		t.Fatal("cleaning changed nothing")
	}
	t.Logf("%d renames and directory fsyncs", steps)

	for k := 1; k <= steps; k++ {
		fs := base.Crash()
		p := run(fs)
		var crashed *vfs.MemFS
		n := 0
		fs.SetHook(func(op vfs.Op, path string) error {
			if op == vfs.OpRename || op == vfs.OpSyncDir {
				if n++; n == k {
					crashed = fs.Crash()
					return errors.New("power loss")
				}
			}
			return nil
		})
		_, _ = p.clean(newCleaner(1<<20, nil, testLogger(t)))
		fs.SetHook(nil)
		p.Close()
		if crashed == nil {
			t.Fatalf("step %d not reached", k)
		}
		p = run(crashed)
		got := readAllRecords(t, p)
		for i, from := range groups {
			to := int64(math.MaxInt64)
			if i+1 < len(groups) {
				to = groups[i+1]
			}
			if g := inRange(got, from, to); !sameRecords(g, inRange(oldState, from, to)) && !sameRecords(g, inRange(cleanState, from, to)) {
				t.Fatalf("crash at step %d: offsets [%d, %d) are neither the old nor the cleaned ones", k, from, to)
			}
		}
		for _, suf := range []string{cleanedSuffix, swapSuffix, deletedSuffix} {
			if left := filesWithSuffix(t, crashed, dir, suf); len(left) > 0 {
				t.Fatalf("crash at step %d: leftover %v", k, left)
			}
		}
		// And cleaning again converges on the cleaned log.
		cleanAll(t, p, newCleaner(1<<20, nil, testLogger(t)))
		if got := readAllRecords(t, p); !sameRecords(got, cleanState) {
			t.Fatalf("crash at step %d: cleaning again gives another log", k)
		}
		must(t, p.Close())
	}
}

func TestCompactedTopicRejectsKeylessRecords(t *testing.T) {
	p := openTest(t, t.TempDir(), Config{Compact: true}, Options{})
	for _, codec := range []records.Codec{records.CodecNone, records.CodecZstd} {
		b := keyedBatch(t, codec, -1, 0, []kv{{key: []byte("a"), value: []byte("1")}, {key: nil, value: []byte("2")}})
		_, err := p.Append(b)
		if !errors.Is(err, records.ErrInvalid) || !strings.Contains(err.Error(), "Compacted topic cannot accept message without key in topic partition t-0") {
			t.Fatalf("%s keyless record: %v", codec, err)
		}
	}
	appendWait(t, p, keyedBatch(t, records.CodecNone, -1, 0, []kv{{key: []byte("a"), value: nil}}))
	// Not compacted: accepted.
	q := openTest(t, t.TempDir(), Config{Delete: true}, Options{})
	appendWait(t, q, makeBatch(batchSpec{}))
}

// The last batch of an idempotent producer stays, emptied, so its sequence
// survives a restart that replays the log (Kafka's rule 1).
func TestCompactionKeepsProducersLastBatch(t *testing.T) {
	fs := vfs.NewMemFS()
	dir := "/data/t-0"
	cfg := Config{SegmentBytes: 250, Compact: true}
	opts := Options{FS: fs, Logger: testLogger(t)}
	p, err := Open(dir, "t", 0, cfg, opts)
	must(t, err)
	k := []byte("k")
	appendWait(t, p, keyedBatch(t, records.CodecNone, 42, 0, []kv{{key: k, value: []byte("a")}}))
	last := appendWait(t, p, keyedBatch(t, records.CodecNone, 42, 1, []kv{{key: k, value: []byte("b")}}))
	for i := 0; i < 6; i++ {
		appendWait(t, p, keyedBatch(t, records.CodecNone, -1, 0, []kv{{key: k, value: bytes.Repeat([]byte("c"), 60)}}))
	}
	cleanAll(t, p, newCleaner(1<<20, nil, testLogger(t)))
	rr, err := p.Read(0, 1<<20, true)
	must(t, err)
	var kept []records.Header
	must(t, records.Split(rr.Records, func(h records.Header, _ []byte) error { kept = append(kept, h); return nil }))
	if kept[0].BaseOffset != last.BaseOffset || kept[0].NumRecords != 0 || kept[0].ProducerID != 42 || kept[0].BaseSequence != 1 {
		t.Fatalf("first batch after cleaning: %+v", kept[0])
	}
	must(t, p.Close())
	for _, name := range filesWithSuffix(t, fs, dir, snapshotSuffix) {
		must(t, fs.Remove(dir+"/"+name))
	}
	p, err = Open(dir, "t", 0, cfg, opts)
	must(t, err)
	defer p.Close()
	res, err := p.Append(keyedBatch(t, records.CodecNone, 42, 1, []kv{{key: k, value: []byte("b")}}))
	if err != nil || !res.Duplicate || res.BaseOffset != last.BaseOffset {
		t.Fatalf("retry of the producer's last batch: %+v %v", res, err)
	}
}

// Segments with records younger than min.compaction.lag.ms are not cleaned.
func TestMinCompactionLag(t *testing.T) {
	clock := newTestClock(10_000_000)
	cfg := Config{SegmentBytes: 300, Compact: true, MinCompactionLagMs: 60_000}
	p := openTest(t, t.TempDir(), cfg, Options{Now: clock.Now})
	k := []byte("k")
	for i := 0; i < 12; i++ {
		appendWait(t, p, keyedBatch(t, records.CodecNone, -1, 0, []kv{{key: k, value: bytes.Repeat([]byte("v"), 50), ts: clock.Now().UnixMilli()}}))
	}
	c := newCleaner(1<<20, nil, testLogger(t))
	if n := cleanAll(t, p, c); n != 0 {
		t.Fatalf("cleaned %d times within the lag", n)
	}
	clock.advance(time.Minute + time.Millisecond)
	if n := cleanAll(t, p, c); n == 0 {
		t.Fatal("not cleaned after the lag")
	}
	if got := len(readAllRecords(t, p)); got >= 12 {
		t.Fatalf("%d records after cleaning", got)
	}
	// The segments, small now, are grouped by the next cleaning.
	clock.advance(time.Hour)
	for n := len(segBases(p)); len(segBases(p)) < n+2; {
		appendWait(t, p, keyedBatch(t, records.CodecNone, -1, 0, []kv{{key: k, value: bytes.Repeat([]byte("v"), 50), ts: clock.Now().UnixMilli() - 120_000}}))
	}
	before := len(segBases(p))
	if n := cleanAll(t, p, c); n == 0 {
		t.Fatal("not cleaned")
	}
	if after := len(segBases(p)); after > before-3 {
		t.Fatalf("%d segments after cleaning, %d before", after, before)
	}
}

// The Manager's cleaner picks up a dirty compacted log by itself, and
// readers running meanwhile see only valid batches.
func TestManagerCleanerWithConcurrentReaders(t *testing.T) {
	cfg := Config{SegmentBytes: 600, IndexIntervalBytes: 100, Compact: true, MinCleanableDirtyRatio: 0.3}
	m, err := OpenManager("/data", func(string) (Config, bool) { return cfg, true },
		Options{FS: vfs.NewMemFS(), Logger: testLogger(t), CleanerBackoff: time.Millisecond, RetentionCheckInterval: time.Hour})
	must(t, err)
	defer m.Close()
	p, err := m.Create("t", 0, cfg)
	must(t, err)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ls, hw, _ := p.Offsets()
				for next := ls; next < hw; {
					rr, err := p.Read(next, 300, true)
					if errors.Is(err, ErrOffsetOutOfRange) {
						break
					}
					if err != nil {
						t.Error(err)
						return
					}
					if len(rr.Records) == 0 {
						break
					}
					err = records.Split(rr.Records, func(h records.Header, b []byte) error {
						next = h.LastOffset() + 1
						if err := records.CheckCRC(b); err != nil {
							return err
						}
						_, err := records.Iterate(b, 0, func(*records.Record) error { return nil })
						return err
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var model compactionModel
	for i := 0; i < 120; i++ {
		appendRandom(t, rng, p, &model, time.Now().UnixMilli(), 8)
	}
	waitFor(t, "the cleaner", func() bool { return p.maint.firstDirty.Load() > 0 && len(readAllRecords(t, p)) < len(model.recs)/2 })
	close(stop)
	wg.Wait()
	m.stopBackground()
	model.check(t, readAllRecords(t, p), p.maint.firstDirty.Load(), true)
}
