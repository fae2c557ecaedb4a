package log

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// testClock is an injectable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock(ms int64) *testClock { return &testClock{now: time.UnixMilli(ms)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// segBases returns the base offsets of the partition's segments.
func segBases(p *Partition) []int64 {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	out := make([]int64, len(p.segs))
	for i, s := range p.segs {
		out[i] = s.base
	}
	return out
}

// filesWithSuffix lists dir's names ending in suffix.
func filesWithSuffix(t *testing.T, fs vfs.FS, dir, suffix string) []string {
	t.Helper()
	names, err := fs.ReadDir(dir)
	must(t, err)
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			out = append(out, n)
		}
	}
	return out
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fillSegments appends one-record batches with the given timestamps, each
// batch of about 100 bytes, into segments of segBytes.
func fillSegments(t *testing.T, p *Partition, tss []int64) []AppendResult {
	t.Helper()
	var out []AppendResult
	for _, ts := range tss {
		out = append(out, appendWait(t, p, makeBatch(batchSpec{valueSize: 40, baseTs: ts})))
	}
	return out
}

func TestRetentionByTime(t *testing.T) {
	fs := vfs.NewMemFS()
	clock := newTestClock(1_000_000)
	// Three batches a segment.
	cfg := Config{SegmentBytes: 350, Delete: true, RetentionMs: 10_000, RetentionBytes: -1}
	p := openTest(t, "/d/t-0", cfg, Options{FS: fs, Now: clock.Now})
	old, young := int64(900_000), int64(995_000)
	// Segments: [old old old] [old old young] [old old old] [young young young] [old] (active)
	fillSegments(t, p, []int64{old, old, old, old, old, young, old, old, old, young, young, young, old})
	bases := segBases(p)
	if len(bases) != 5 {
		t.Fatalf("segments %v", bases)
	}
	n, err := p.applyRetention()
	must(t, err)
	// Only the first segment: the second holds a young record, and
	// deletion stops at the first segment it keeps (Kafka's rule).
	if n != 1 || segBases(p)[0] != 3 {
		t.Fatalf("deleted %d, segments %v", n, segBases(p))
	}
	if ls, _, _ := p.Offsets(); ls != 3 {
		t.Fatalf("log start %d", ls)
	}
	if _, err := p.Read(2, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	rr, err := p.Read(3, 1<<20, true)
	if err != nil || len(rr.Records) == 0 || headerOf(t, rr.Records).BaseOffset != 3 || rr.LogStartOffset != 3 {
		t.Fatalf("read at log start: %v %+v", err, rr)
	}
	// Time passes: everything closed is old now, but the active segment
	// stays.
	clock.advance(time.Hour)
	n, err = p.applyRetention()
	must(t, err)
	if got := segBases(p); n != 3 || len(got) != 1 || got[0] != 12 {
		t.Fatalf("deleted %d, segments %v", n, got)
	}
	if ls, hw, _ := p.Offsets(); ls != 12 || hw != 13 {
		t.Fatalf("offsets %d %d", ls, hw)
	}
	// retention.ms -1 keeps everything.
	cfg.RetentionMs = -1
	p.SetConfig(cfg)
	fillSegments(t, p, []int64{old, old, old, old})
	if n, err := p.applyRetention(); n != 0 || err != nil {
		t.Fatalf("retention.ms -1 deleted %d: %v", n, err)
	}
}

func TestRetentionBySize(t *testing.T) {
	fs := vfs.NewMemFS()
	cfg := Config{SegmentBytes: 350, Delete: true, RetentionMs: -1, RetentionBytes: -1}
	p := openTest(t, "/d/t-0", cfg, Options{FS: fs})
	fillSegments(t, p, make([]int64, 14)) // 4 full segments of 3 batches, the active one with 2
	if n, err := p.applyRetention(); n != 0 || err != nil {
		t.Fatalf("retention.bytes -1 deleted %d: %v", n, err)
	}
	sizes := func() (total int64, each []int64) {
		p.vmu.RLock()
		defer p.vmu.RUnlock()
		for _, s := range p.segs {
			each = append(each, s.size.Load())
			total += s.size.Load()
		}
		return
	}
	total, each := sizes()
	// Room for everything but one byte of the first segment: it goes,
	// the second stays (the rest would be below the limit without it).
	cfg.RetentionBytes = total - each[0] - 1
	p.SetConfig(cfg)
	n, err := p.applyRetention()
	must(t, err)
	if n != 1 {
		t.Fatalf("deleted %d segments", n)
	}
	if got, _ := sizes(); got < cfg.RetentionBytes {
		t.Fatalf("size %d below retention.bytes %d", got, cfg.RetentionBytes)
	}
	// Exactly the size of the last two segments: everything older goes,
	// never the active one.
	_, each = sizes()
	cfg.RetentionBytes = each[len(each)-1] + each[len(each)-2]
	p.SetConfig(cfg)
	n, err = p.applyRetention()
	must(t, err)
	if got := segBases(p); n != 2 || len(got) != 2 {
		t.Fatalf("deleted %d, segments %v", n, got)
	}
	cfg.RetentionBytes = 0
	p.SetConfig(cfg)
	n, err = p.applyRetention()
	must(t, err)
	if got := segBases(p); n != 1 || len(got) != 1 || got[0] != 12 {
		t.Fatalf("deleted %d, segments %v", n, got)
	}
	ls, _, _ := p.Offsets()
	rr, err := p.Read(ls, 1<<20, true)
	if err != nil || len(rr.Records) == 0 {
		t.Fatalf("read at new log start %d: %v", ls, err)
	}
}

// A compacted-only topic keeps its segments whatever their age; the log
// start still deletes below it.
func TestRetentionNeedsDeletePolicy(t *testing.T) {
	cfg := Config{SegmentBytes: 350, Compact: true, RetentionMs: 0, RetentionBytes: 0}
	p := openTest(t, t.TempDir(), cfg, Options{})
	for i := 0; i < 7; i++ {
		b, err := records.Build(records.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: 1},
			[]records.Record{{Key: []byte("k"), Value: make([]byte, 40)}})
		must(t, err)
		appendWait(t, p, b)
	}
	if n, err := p.applyRetention(); n != 0 || err != nil {
		t.Fatalf("deleted %d: %v", n, err)
	}
	if ls, err := p.DeleteRecordsBefore(4); ls != 4 || err != nil {
		t.Fatalf("DeleteRecordsBefore: %d %v", ls, err)
	}
	if got := segBases(p); got[0] != 3 {
		t.Fatalf("segments %v", got)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	fs := vfs.NewMemFS()
	dir := "/d/t-0"
	cfg := Config{SegmentBytes: 350}
	opts := Options{FS: fs, Logger: testLogger(t)}
	p, err := Open(dir, "t", 0, cfg, opts)
	must(t, err)
	fillSegments(t, p, make([]int64, 10)) // segments at 0, 3, 6, 9 (active)
	if _, err := p.DeleteRecordsBefore(11); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond the HW: %v", err)
	}
	if _, err := p.DeleteRecordsBefore(-2); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("negative: %v", err)
	}
	ls, err := p.DeleteRecordsBefore(4)
	if err != nil || ls != 4 {
		t.Fatalf("DeleteRecordsBefore(4): %d %v", ls, err)
	}
	if got := segBases(p); len(got) != 3 || got[0] != 3 {
		t.Fatalf("segments %v", got)
	}
	if ls, err := p.DeleteRecordsBefore(2); ls != 4 || err != nil {
		t.Fatalf("backwards: %d %v", ls, err)
	}
	if _, err := p.Read(3, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below: %v", err)
	}
	if rr, err := p.Read(4, 1<<20, true); err != nil || headerOf(t, rr.Records).BaseOffset != 4 || rr.LogStartOffset != 4 {
		t.Fatalf("read at the log start: %v", err)
	}
	res := appendWait(t, p, makeBatch(batchSpec{valueSize: 40}))
	if res.LogStartOffset != 4 {
		t.Fatalf("append reports log start %d", res.LogStartOffset)
	}
	if off, _, ok, err := p.OffsetForTimestamp(0); !ok || err != nil || off != 4 {
		t.Fatalf("offset for timestamp 0: %d %v %v", off, ok, err)
	}

	// Persisted across Close/Open.
	must(t, p.Close())
	p, err = Open(dir, "t", 0, cfg, opts)
	must(t, err)
	if ls, hw, _ := p.Offsets(); ls != 4 || hw != 11 {
		t.Fatalf("after reopen: %d %d", ls, hw)
	}
	// -1 is the high watermark; and it survives a power loss.
	if ls, err := p.DeleteRecordsBefore(-1); ls != 11 || err != nil {
		t.Fatalf("DeleteRecordsBefore(-1): %d %v", ls, err)
	}
	if got := segBases(p); len(got) != 1 || got[0] != 9 {
		t.Fatalf("segments %v", got)
	}
	if rr, err := p.Read(11, 1<<20, true); err != nil || len(rr.Records) != 0 {
		t.Fatalf("read at the log end: %v %d", err, len(rr.Records))
	}
	crashed := fs.Crash()
	p.Close()
	p, err = Open(dir, "t", 0, cfg, Options{FS: crashed, Logger: testLogger(t)})
	must(t, err)
	defer p.Close()
	if ls, hw, leo := p.Offsets(); ls != 11 || hw != 11 || leo != 11 {
		t.Fatalf("after crash: %d %d %d", ls, hw, leo)
	}
	if _, err := p.Read(10, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below after crash: %v", err)
	}
	res = appendWait(t, p, makeBatch(batchSpec{}))
	if res.BaseOffset != 11 || res.LogStartOffset != 11 {
		t.Fatalf("append after crash: %+v", res)
	}
}

// A crash after the log start is persisted but before the segments below
// it are gone: Open deletes them. A damaged checkpoint falls back to the
// first segment.
func TestLogStartRecovery(t *testing.T) {
	fs := vfs.NewMemFS()
	dir := "/d/t-0"
	cfg := Config{SegmentBytes: 350}
	p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	fillSegments(t, p, make([]int64, 10))
	var crashed *vfs.MemFS
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpRename && strings.HasSuffix(path, ".index") && crashed == nil {
			crashed = fs.Crash()
			return errors.New("injected")
		}
		return nil
	})
	if _, err := p.DeleteRecordsBefore(7); err == nil {
		t.Fatal("DeleteRecordsBefore survived a failed rename")
	}
	fs.SetHook(nil)
	p.Close()
	p, err = Open(dir, "t", 0, cfg, Options{FS: crashed, Logger: testLogger(t)})
	must(t, err)
	if ls, _, _ := p.Offsets(); ls != 7 {
		t.Fatalf("log start %d", ls)
	}
	if got := segBases(p); len(got) != 2 || got[0] != 6 {
		t.Fatalf("segments %v", got)
	}
	if n := filesWithSuffix(t, crashed, dir, ".log"); len(n) != 2 {
		t.Fatalf("log files %v", n)
	}
	must(t, p.Close())

	must(t, crashed.WriteFile(dir+"/"+logStartFile, []byte("garbage")))
	p, err = Open(dir, "t", 0, cfg, Options{FS: crashed, Logger: testLogger(t)})
	must(t, err)
	defer p.Close()
	if ls, _, _ := p.Offsets(); ls != 6 {
		t.Fatalf("log start with a damaged checkpoint %d", ls)
	}
}

func TestDeletedFilesAreRemovedAfterTheDelay(t *testing.T) {
	fs := vfs.NewMemFS()
	dir := "/d/t-0"
	cfg := Config{SegmentBytes: 350, FileDeleteDelayMs: 150}
	p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	fillSegments(t, p, make([]int64, 10))
	start := time.Now()
	_, err = p.DeleteRecordsBefore(6)
	must(t, err)
	if got := filesWithSuffix(t, fs, dir, deletedSuffix); len(got) != 6 {
		t.Fatalf(".deleted files right after deletion: %v", got)
	}
	waitFor(t, ".deleted files to go", func() bool { return len(filesWithSuffix(t, fs, dir, deletedSuffix)) == 0 })
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("files removed after %v, before file.delete.delay.ms", el)
	}

	// Close removes pending ones at once; Open removes leftovers.
	cfg.FileDeleteDelayMs = 3_600_000
	p.SetConfig(cfg)
	_, err = p.DeleteRecordsBefore(9)
	must(t, err)
	if got := filesWithSuffix(t, fs, dir, deletedSuffix); len(got) != 3 {
		t.Fatalf(".deleted files: %v", got)
	}
	crashed := fs.Crash()
	must(t, p.Close())
	if got := filesWithSuffix(t, fs, dir, deletedSuffix); len(got) != 0 {
		t.Fatalf(".deleted files after Close: %v", got)
	}
	must(t, crashed.WriteFile(dir+"/00000000000000000000.log.deleted", []byte("x")))
	p, err = Open(dir, "t", 0, cfg, Options{FS: crashed, Logger: testLogger(t)})
	must(t, err)
	defer p.Close()
	if got := filesWithSuffix(t, crashed, dir, deletedSuffix); len(got) != 0 {
		t.Fatalf(".deleted files after Open: %v", got)
	}
	if ls, _, _ := p.Offsets(); ls != 9 {
		t.Fatalf("log start %d", ls)
	}
}

// A read that picked a segment before it was deleted finishes, even with
// file.delete.delay.ms 0; the files go when it is done.
func TestInflightReadOfDeletedSegment(t *testing.T) {
	fs := vfs.NewMemFS()
	dir := "/d/t-0"
	p := openTest(t, dir, Config{SegmentBytes: 350}, Options{FS: fs})
	fillSegments(t, p, make([]int64, 10))
	first := fileName(dir, 0, logSuffix)
	inRead, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpRead && path == first {
			once.Do(func() { close(inRead); <-release })
		}
		return nil
	})
	type result struct {
		rr  ReadResult
		err error
	}
	done := make(chan result)
	go func() {
		rr, err := p.Read(0, 1<<20, true)
		done <- result{rr, err}
	}()
	<-inRead
	if _, err := p.DeleteRecordsBefore(9); err != nil {
		t.Fatal(err)
	}
	// Give the zero delay timer its chance to (wrongly) close the file.
	time.Sleep(20 * time.Millisecond)
	// The other two went at once; the one being read stays.
	if got := filesWithSuffix(t, fs, dir, ".log"+deletedSuffix); len(got) != 1 || got[0] != "00000000000000000000.log.deleted" {
		t.Fatalf("deleted segment files while a read uses one: %v", got)
	}
	close(release)
	r := <-done
	if r.err != nil || len(r.rr.Records) == 0 {
		t.Fatalf("in-flight read: %v", r.err)
	}
	if err := records.Split(r.rr.Records, func(h records.Header, b []byte) error { return records.CheckCRC(b) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted segments to go", func() bool { return len(filesWithSuffix(t, fs, dir, deletedSuffix)) == 0 })
	if _, err := p.Read(0, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the log start: %v", err)
	}
}

// The Manager applies retention on its own.
func TestManagerRetentionLoop(t *testing.T) {
	fs := vfs.NewMemFS()
	cfg := Config{SegmentBytes: 350, Delete: true, RetentionMs: 1000, RetentionBytes: -1}
	clock := newTestClock(1_000_000)
	m, err := OpenManager("/data", func(string) (Config, bool) { return cfg, true },
		Options{FS: fs, Logger: testLogger(t), Now: clock.Now, RetentionCheckInterval: 5 * time.Millisecond, DisableCleaner: true})
	must(t, err)
	defer m.Close()
	p, err := m.Create("t", 0, cfg)
	must(t, err)
	fillSegments(t, p, []int64{990_000, 990_000, 990_000, 999_900, 999_900, 999_900, 999_900})
	waitFor(t, "retention", func() bool { ls, _, _ := p.Offsets(); return ls == 3 })
	clock.advance(time.Hour)
	waitFor(t, "more retention", func() bool { ls, _, _ := p.Offsets(); return ls == 6 })
}

// Readers racing with DeleteRecordsBefore and retention (file.delete.delay.ms
// 0) get whole, CRC-valid batches or ErrOffsetOutOfRange, never a closed
// file.
func TestReadsRacingSegmentDeletion(t *testing.T) {
	cfg := Config{SegmentBytes: 400, Delete: true, RetentionMs: -1, RetentionBytes: 2000}
	p := openTest(t, "/d/t-0", cfg, Options{FS: vfs.NewMemFS()})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ls, hw, _ := p.Offsets()
				if hw == ls {
					continue
				}
				off := ls + int64(i)%(hw-ls)
				rr, err := p.Read(off, 500, true)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue
				}
				if err == nil {
					err = records.Split(rr.Records, func(_ records.Header, b []byte) error { return records.CheckCRC(b) })
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, _, _, err := p.OffsetForTimestamp(0); err != nil {
					t.Error(err)
					return
				}
				if _, _, _, err := p.MaxTimestamp(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		appendWait(t, p, makeBatch(batchSpec{valueSize: 40}))
		switch i % 10 {
		case 3:
			_, hw, _ := p.Offsets()
			if _, err := p.DeleteRecordsBefore(hw - 5); err != nil {
				t.Fatal(err)
			}
		case 7:
			if _, err := p.applyRetention(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
}
