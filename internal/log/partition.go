package log

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// logPos is a point in the log: the exclusive end offset, where it falls in
// the segment files, and the largest timestamp of that segment up to it.
// The log end, the synced point and the high watermark are each a logPos.
type logPos struct {
	offset   int64    // next offset: every offset below is covered
	seg      *segment // segment holding the byte position
	pos      int64    // byte position in seg
	maxTs    int64    // largest batch max timestamp in seg below pos, -1 if none
	maxTsOff int64    // base offset of the batch carrying maxTs
}

// Partition is the log of one topic partition: a list of segments, the last
// of which is active, plus producer state (Kafka's UnifiedLog, much reduced).
//
// Lock order: mu, then cpMu, then vmu, then an index's mu or a segment's
// tsMu. mu serialises writers (Append, roll, Close); vmu guards the view that
// readers snapshot, so Read never waits behind a write or an fsync.
type Partition struct {
	dir       string
	topic     string
	partition int32
	fs        vfs.FS
	logger    *slog.Logger
	now       func() time.Time
	onSync    func(time.Duration, int64)
	cfg       atomic.Pointer[Config]

	mu        sync.Mutex // the append lock
	producers *producerState
	activeMax struct{ ts, off int64 } // largest timestamp in the active segment

	cpMu           sync.Mutex // serialises recovery-point writes
	lastCheckpoint logPos
	lastCPTime     time.Time

	vmu      sync.RWMutex
	segs     []*segment // copy on write; the last one is active
	leo      logPos     // log end: written, maybe not synced
	synced   logPos     // fsynced: the recovery point
	hw       logPos     // high watermark: visible to readers
	hwCh     chan struct{}
	failErr  error
	closed   bool
	closeErr error

	txv txnView // transactions readers see (txn.go)

	maint maintenance // log start, segment removal, cleaner (logstart.go)

	cacheTail int64    // Options.CacheTail
	dropped   struct { // drop-behind (syncer.go), the syncer's own
		seg *segment
		pos int64
	}

	kick       chan struct{}
	done       chan struct{}
	syncerDone chan struct{}
	closeOnce  sync.Once
}

// AppendResult describes an accepted append.
type AppendResult struct {
	BaseOffset, LastOffset int64 // offsets assigned (for a duplicate: those of the original)
	LogAppendTime          int64 // -1 unless LogAppendTime
	LogStartOffset         int64
	Duplicate              bool
}

// ReadResult is the answer to Read.
type ReadResult struct {
	Records          []byte
	HighWatermark    int64
	LogStartOffset   int64
	LastStableOffset int64
	// Aborted lists, for ReadCommittedInto, the aborted transactions that
	// overlap Records.
	Aborted []AbortedTxn
}

// Dir is the partition's directory.
func (p *Partition) Dir() string { return p.dir }

// Topic is the partition's topic.
func (p *Partition) Topic() string { return p.topic }

// Partition is the partition number.
func (p *Partition) Partition() int32 { return p.partition }

// Config returns the current configuration.
func (p *Partition) Config() Config { return *p.cfg.Load() }

// SetConfig changes the configuration; it applies from the next append.
func (p *Partition) SetConfig(cfg Config) {
	c := cfg.normalize()
	p.cfg.Store(&c)
	p.kickSyncer()
}

// Offsets returns the log start offset, the high watermark and the log end
// offset.
func (p *Partition) Offsets() (logStart, highWatermark, logEnd int64) {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	return p.maint.logStart, p.hw.offset, p.leo.offset
}

// Size returns the bytes of all segments.
func (p *Partition) Size() int64 {
	p.vmu.RLock()
	segs := p.segs
	p.vmu.RUnlock()
	var n int64
	for _, s := range segs {
		n += s.size.Load()
	}
	return n
}

// Notify returns a channel closed the next time the high watermark advances
// (or the partition closes or fails), for fetch long-polls.
func (p *Partition) Notify() <-chan struct{} {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	return p.hwCh
}

// advanceHWLocked moves the HW forward to to and wakes waiters.
// REQUIRES: vmu held for writing.
func (p *Partition) advanceHWLocked(to logPos) {
	if to.offset <= p.hw.offset {
		return
	}
	p.hw = to
	if !p.closed && p.failErr == nil {
		close(p.hwCh)
		p.hwCh = make(chan struct{})
	}
}

// fail puts the partition in the failed state: from now on Append and
// WaitDurable return err. Data written but not synced is never made visible.
func (p *Partition) fail(err error) {
	p.vmu.Lock()
	defer p.vmu.Unlock()
	if p.failErr != nil {
		return
	}
	p.failErr = err
	p.logger.Error("partition failed", "err", err)
	if !p.closed {
		close(p.hwCh)
	}
}

// usable returns why the partition takes no more writes, or nil.
func (p *Partition) usable() error {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	if p.failErr != nil {
		return p.failErr
	}
	if p.closed {
		return ErrClosed
	}
	return nil
}

// Append validates every batch in batches (one or more concatenated v2
// batches), checks idempotence, assigns offsets and writes them to the
// active segment. It rewrites base offsets, the partition leader epoch (0)
// and, for LogAppendTime topics, the max timestamp in place. It does not
// wait for durability: see WaitDurable.
func (p *Partition) Append(batches []byte) (AppendResult, error) {
	cfg := p.cfg.Load()
	res := AppendResult{LogAppendTime: -1}
	if len(batches) == 0 {
		return res, fmt.Errorf("%w: no record batch", records.ErrCorrupt)
	}
	if int64(len(batches)) > cfg.SegmentBytes {
		return res, fmt.Errorf("%w: %d bytes exceed segment.bytes %d", ErrMessageTooLarge, len(batches), cfg.SegmentBytes)
	}
	// The CRC and the record walk of uncompressed batches wait until the
	// batches are in the page cache (verify, below): write(2) brings them
	// back into the CPU cache, which makes the checks about 4% of the
	// produce CPU cheaper (docs/benchmarks.md, "Checks after the write").
	// Not for LogAppendTime topics: their CRC is recomputed before the write.
	// Nor for compacted ones, whose key check walks the records anyway.
	var hdrArr [1]records.Header
	deferOK := !cfg.LogAppendTime && !cfg.Compact
	hdrs, deferred, err := p.checkBatches(cfg, batches, deferOK, hdrArr[:0])
	if err != nil && deferOK {
		// Kafka's answer is the first failure in its order of checks.
		if _, _, e := p.checkBatches(cfg, batches, false, hdrArr[:0]); e != nil {
			err = e
		}
	}
	if err != nil {
		return res, err
	}
	// verify makes the deferred checks. The others have passed for every
	// batch, so the first failure here is Kafka's answer too. An append
	// that is not written (an error or a duplicate) runs it first.
	var verify func() error
	if deferred {
		verify = func() error {
			return records.Split(batches, func(_ records.Header, b []byte) error {
				_, err := records.ValidateWritten(b) // just copied: in the cache
				return err
			})
		}
	}
	var appendTime int64 = -1
	if cfg.LogAppendTime {
		appendTime = p.now().UnixMilli()
		res.LogAppendTime = appendTime
	}
	off := 0
	for i := range hdrs {
		b := batches[off : off+hdrs[i].Size()]
		records.SetPartitionLeaderEpoch(b, 0)
		if appendTime >= 0 {
			records.SetLogAppendTime(b, appendTime)
			hdrs[i].MaxTimestamp = appendTime
			hdrs[i].Attributes |= records.TimestampTypeBit
		}
		off += hdrs[i].Size()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.usable(); err != nil {
		return res, err
	}
	p.vmu.RLock()
	next := p.leo.offset
	logStart := p.maint.logStart
	p.vmu.RUnlock()
	res.LogStartOffset = logStart

	// Idempotence: check every batch against the producer state as the
	// earlier batches of this append would leave it.
	pa := p.producers.begin()
	first := next
	var starts []txnStart // transactions this append opens
	for i := range hdrs {
		h := &hdrs[i]
		h.BaseOffset = next
		if h.ProducerID >= 0 {
			if h.IsTransactional() {
				if e := pa.lookup(h.ProducerID); (e == nil || !e.txnOpen) && !slices.ContainsFunc(starts, func(t txnStart) bool { return t.pid == h.ProducerID }) {
					starts = append(starts, txnStart{h.ProducerID, h.BaseOffset})
				}
			}
			dup, err := pa.check(h)
			if err != nil || dup != nil {
				if verify != nil {
					if verr := verify(); verr != nil {
						return res, verr
					}
				}
			}
			if err != nil {
				return res, err
			}
			if dup != nil {
				// Kafka's rule: a duplicate batch makes the whole append a
				// duplicate; nothing is written.
				res.BaseOffset, res.LastOffset, res.Duplicate = dup.firstOffset, dup.lastOffset, true
				if cfg.LogAppendTime {
					res.LogAppendTime = dup.maxTimestamp // the original's
				}
				return res, nil
			}
		}
		next += int64(h.LastOffsetDelta) + 1
	}
	last := next - 1

	if len(starts) > 0 {
		// Open before the data can become visible: the LSO stays below it.
		p.vmu.Lock()
		if p.txv.ongoing == nil {
			p.txv.ongoing = map[int64]int64{}
		}
		for _, s := range starts {
			p.txv.ongoing[s.pid] = s.first
		}
		p.vmu.Unlock()
	}
	if err := p.writeLocked(cfg, batches, hdrs, first, next, verify, func(h *records.Header) {
		if h.ProducerID >= 0 {
			pa.update(h)
		}
	}); err != nil {
		if len(starts) > 0 {
			p.vmu.Lock()
			for _, s := range starts {
				delete(p.txv.ongoing, s.pid)
			}
			p.vmu.Unlock()
		}
		return res, err
	}
	pa.commit(p.now().UnixMilli())
	res.BaseOffset, res.LastOffset = first, last
	return res, nil
}

// checkBatches makes the checks of each batch of batches that come before
// the producer state, in Kafka's order, and returns their headers. With
// deferOK, uncompressed batches skip their CRC and record walk
// (records.ValidateDeferred) and deferred reports whether any did. The
// headers are appended to hdrs.
func (p *Partition) checkBatches(cfg *Config, batches []byte, deferOK bool, hdrs []records.Header) (_ []records.Header, deferred bool, err error) {
	err = records.Split(batches, func(_ records.Header, b []byte) error {
		if len(b) > cfg.MaxMessageBytes {
			return fmt.Errorf("%w: batch of %d bytes exceeds max.message.bytes %d", ErrMessageTooLarge, len(b), cfg.MaxMessageBytes)
		}
		var h records.Header
		var err error
		if deferOK {
			var d bool
			h, d, err = records.ValidateDeferred(b)
			deferred = deferred || d
		} else {
			h, err = records.ValidateDeep(b, 0)
		}
		if err != nil {
			return err
		}
		if !cfg.LogAppendTime {
			if err := checkTimestamps(cfg, h, b, p.now().UnixMilli()); err != nil {
				return err
			}
		}
		if cfg.Compact {
			if err := p.checkKeys(b); err != nil {
				return err
			}
		}
		if h.ProducerID >= 0 && h.BaseSequence < 0 {
			return fmt.Errorf("%w: producer id %d without a sequence number", records.ErrInvalid, h.ProducerID)
		}
		if h.IsTransactional() && h.ProducerID < 0 {
			return fmt.Errorf("%w: transactional batch without a producer id", records.ErrInvalid)
		}
		hdrs = append(hdrs, h)
		return nil
	})
	if errors.Is(err, records.ErrShort) {
		err = fmt.Errorf("%w: partial batch at the end of the request", records.ErrCorrupt)
	}
	return hdrs, deferred, err
}

// writeLocked writes batches, whose headers hdrs carry their assigned base
// offsets first..next-1, to the active segment (rolling first if needed),
// indexes them, calls each for every header and publishes the new log end.
// REQUIRES: p.mu held.
func (p *Partition) writeLocked(cfg *Config, batches []byte, hdrs []records.Header, first, next int64, verify func() error, each func(h *records.Header)) error {
	last := next - 1
	p.vmu.RLock()
	seg := p.segs[len(p.segs)-1]
	p.vmu.RUnlock()
	var err error
	now := p.now().UnixMilli()
	size := seg.size.Load()
	if size > 0 && (size+int64(len(batches)) > cfg.SegmentBytes ||
		now-seg.rollAt >= cfg.rollMs() ||
		last-seg.base > math.MaxInt32) {
		if seg, err = p.roll(first); err != nil {
			return err
		}
		size = 0
	}
	if size == 0 {
		seg.rollAt = now
	}

	off := 0
	for i := range hdrs {
		records.SetBaseOffset(batches[off:], hdrs[i].BaseOffset) // invariant 5: offsets assigned here only
		off += hdrs[i].Size()
	}
	seg.reserve(cfg, size+int64(len(batches)))
	if _, err := seg.log.Write(batches); err != nil {
		err = storageErr("write", seg.name(), err)
		p.fail(err)
		return err
	}
	if verify != nil {
		if verr := verify(); verr != nil {
			// Not published, indexed or acknowledged: cut it off again.
			// A crash before the cut leaves it past the synced end,
			// where recovery checks it (loader.scan) as it would a torn
			// tail.
			if err := seg.log.Truncate(size); err != nil {
				err = storageErr("truncate", seg.name(), err)
				p.fail(err)
				return err
			}
			seg.unreserve() // the truncate freed them on ext4
			return verr
		}
	}

	pos := size
	for i := range hdrs {
		h := &hdrs[i]
		if h.MaxTimestamp > p.activeMax.ts {
			p.activeMax.ts, p.activeMax.off = h.MaxTimestamp, h.BaseOffset
		}
		if err := p.maybeIndex(seg, cfg, h.BaseOffset, pos); err != nil {
			p.fail(err)
			return err
		}
		seg.bytesSinceIndex += h.Size()
		each(h)
		pos += int64(h.Size())
	}
	seg.size.Store(pos)

	p.vmu.Lock()
	p.leo = logPos{offset: next, seg: seg, pos: pos, maxTs: p.activeMax.ts, maxTsOff: p.activeMax.off}
	if cfg.FlushInterval > 0 {
		p.advanceHWLocked(p.leo) // the user traded durability for latency
	}
	p.vmu.Unlock()
	p.kickSyncer()
	return nil
}

// maybeIndex adds index entries for the batch at pos when index.interval.bytes
// have passed since the last entry.
// REQUIRES: p.mu held.
func (p *Partition) maybeIndex(seg *segment, cfg *Config, base, pos int64) error {
	if seg.bytesSinceIndex < cfg.IndexIntervalBytes {
		return nil
	}
	var e [offsetEntrySize]byte
	putOffsetEntry(e[:], relOffset(base, seg.base), uint32(pos))
	if err := seg.offsets.append(e[:]); err != nil {
		return err
	}
	seg.bytesSinceIndex = 0
	return p.maybeTimeIndex(seg)
}

// maybeTimeIndex appends a time index entry if the active segment's largest
// timestamp grew since the last one.
// REQUIRES: p.mu held.
func (p *Partition) maybeTimeIndex(seg *segment) error {
	if p.activeMax.ts <= seg.lastTimeEntry {
		return nil
	}
	var e [timeEntrySize]byte
	putTimeEntry(e[:], p.activeMax.ts, relOffset(p.activeMax.off, seg.base))
	if err := seg.times.append(e[:]); err != nil {
		return err
	}
	seg.lastTimeEntry = p.activeMax.ts
	return nil
}

// roll closes the active segment and starts a new one at next: fsync the old
// segment and its indexes, snapshot producer state, create the new files,
// fsync the directory. The fsync covers everything appended so far, so the
// HW advances to the old segment's end.
// REQUIRES: p.mu held.
func (p *Partition) roll(next int64) (*segment, error) {
	p.vmu.RLock()
	old := p.leo
	p.vmu.RUnlock()
	seg := old.seg
	fail := func(err error) (*segment, error) { p.fail(err); return nil, err }

	if err := p.maybeTimeIndex(seg); err != nil {
		return fail(err)
	}
	if err := seg.syncAll(); err != nil {
		return fail(err)
	}
	if err := errors.Join(seg.offsets.sealed(), seg.times.sealed()); err != nil {
		return fail(err)
	}
	seg.unreserve()
	seg.setMaxTimestamp(p.activeMax.ts, p.activeMax.off)

	if err := p.writeProducerSnapshot(next); err != nil {
		return fail(err)
	}
	ns, err := openSegment(p.fs, p.dir, next, true)
	if err != nil {
		return fail(err)
	}
	if err := errors.Join(ns.offsets.activate(), ns.times.activate()); err != nil {
		ns.close()
		return fail(err)
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		ns.close()
		return fail(storageErr("fsync dir", p.dir, err))
	}
	p.activeMax.ts, p.activeMax.off = -1, -1
	end := logPos{offset: next, seg: ns, pos: 0, maxTs: -1, maxTsOff: -1}

	p.vmu.Lock()
	segs := make([]*segment, len(p.segs), len(p.segs)+1)
	copy(segs, p.segs)
	p.segs = append(segs, ns)
	p.leo = end
	if old.offset > p.synced.offset {
		p.synced = old
	}
	if cfg := p.cfg.Load(); cfg.FlushInterval == 0 {
		p.advanceHWLocked(old)
	}
	p.vmu.Unlock()

	if err := p.checkpoint(end, true); err != nil {
		return fail(err)
	}
	p.logger.Debug("rolled segment", "base_offset", next)
	return ns, nil
}

// WaitDurable blocks until the high watermark is past offset, which (with
// FlushInterval 0) means every offset <= offset is fsynced; or until ctx is
// done, the partition closes, or an fsync fails (that error is returned).
func (p *Partition) WaitDurable(ctx context.Context, offset int64) error {
	for {
		p.vmu.RLock()
		hw, ch, failErr, closed := p.hw.offset, p.hwCh, p.failErr, p.closed
		p.vmu.RUnlock()
		switch {
		case hw > offset:
			return nil
		case failErr != nil:
			return failErr
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Read returns whole batches starting with the one that contains offset,
// never past the high watermark, at most maxBytes unless minOneBatch is set
// and the first batch alone is larger (KIP-74: then exactly that batch).
// An offset below the log start or above the log end is ErrOffsetOutOfRange;
// one at or above the HW gets no records and no error. A failed partition
// returns its failure (ErrStorage).
func (p *Partition) Read(offset int64, maxBytes int, minOneBatch bool) (ReadResult, error) {
	return p.ReadInto(nil, offset, maxBytes, minOneBatch)
}

// ReadInto is Read reading into buf's spare capacity, buf[len(buf):cap(buf)],
// when what it reads fits there (a fresh buffer otherwise), so a caller
// can reuse one buffer for many reads. Records then aliases buf's array
// (with its capacity capped at its length); the caller must not reuse that
// part of buf while it uses Records.
func (p *Partition) ReadInto(buf []byte, offset int64, maxBytes int, minOneBatch bool) (ReadResult, error) {
	for {
		res, stale, err := p.readView(buf, nil, offset, maxBytes, minOneBatch, false)
		if !stale {
			return res, err
		}
		// A segment of our view left the log (retention, compaction) and
		// was closed: look again.
	}
}

// readView reads as ReadInto; committed (ReadCommittedInto) returns nothing
// for an offset at or above the LSO, and the caller trims what it reads
// past the LSO. With sp set it reads nothing but sets sp (ReadSpan), which
// then stops at the LSO itself when committed.
func (p *Partition) readView(dst []byte, sp *Span, offset int64, maxBytes int, minOneBatch, committed bool) (res ReadResult, stale bool, err error) {
	p.vmu.RLock()
	segs, hw, leo, closed, failErr := p.segs, p.hw, p.leo.offset, p.closed, p.failErr
	res = ReadResult{HighWatermark: hw.offset, LogStartOffset: p.maint.logStart, LastStableOffset: p.lsoLocked()}
	p.vmu.RUnlock()
	if failErr != nil {
		// Like Kafka's offline log directory: a failed partition serves
		// nothing (and its Notify channel stays closed).
		return res, false, failErr
	}
	if closed {
		return res, false, ErrClosed
	}
	if offset < res.LogStartOffset || offset > leo {
		return res, false, fmt.Errorf("%w: offset %d not in [%d, %d]", ErrOffsetOutOfRange, offset, res.LogStartOffset, leo)
	}
	if offset >= hw.offset || (committed && offset >= res.LastStableOffset) {
		return res, false, nil
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	for ; i < len(segs); i++ {
		seg := segs[i]
		if !seg.acquire() {
			return res, true, nil
		}
		limit := seg.size.Load()
		if seg == hw.seg {
			limit = hw.pos // invariant 2: never past the HW
		}
		start, err := seg.find(offset, limit)
		if err == nil && start >= 0 && sp != nil {
			stop := int64(noStop)
			if committed {
				stop = res.LastStableOffset
			}
			var end, last int64
			end, last, err = seg.spanEnd(start, limit, maxBytes, minOneBatch, stop)
			if err == nil && end > start {
				*sp = Span{seg: seg, Pos: start, Len: int(end - start), last: last}
				return res, false, nil // sp keeps the reference
			}
		} else if err == nil && start >= 0 {
			res.Records, err = readBatches(dst, seg, start, limit, maxBytes, minOneBatch)
		}
		seg.release()
		if err != nil || start >= 0 {
			return res, false, p.readErr(err)
		}
		if seg == hw.seg {
			break
		}
	}
	return res, false, nil
}

// readErr turns the error of a read that raced with Close into ErrClosed.
func (p *Partition) readErr(err error) error {
	if err == nil {
		return nil
	}
	p.vmu.RLock()
	closed := p.closed
	p.vmu.RUnlock()
	if closed {
		return ErrClosed
	}
	return err
}

// readBatches reads the whole batches in [start, limit) that fit in maxBytes.
func readBatches(dst []byte, seg *segment, start, limit int64, maxBytes int, minOneBatch bool) ([]byte, error) {
	n := limit - start
	if int64(maxBytes) < n {
		n = int64(max(maxBytes, 0))
	}
	var buf []byte
	if n >= records.LogOverhead {
		buf = readBuf(dst, int(n))
		if m, err := seg.log.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return nil, storageErr("read", seg.name(), err)
		} else if m < len(buf) {
			clear(buf[m:]) // a reused buffer holds old bytes
		}
		end := 0
		for end < len(buf) {
			size, err := records.PeekSize(buf[end:])
			if err != nil || end+size > len(buf) {
				break
			}
			end += size
		}
		if end > 0 {
			return buf[:end:end], nil
		}
	}
	if !minOneBatch {
		return nil, nil
	}
	var hdr [records.LogOverhead]byte
	if _, err := seg.log.ReadAt(hdr[:], start); err != nil && !errors.Is(err, io.EOF) {
		return nil, storageErr("read", seg.name(), err)
	}
	size, err := records.PeekSize(hdr[:])
	if err != nil || start+int64(size) > limit {
		return nil, fmt.Errorf("%w: %s: bad batch at %d below the high watermark", records.ErrCorrupt, seg.name(), start)
	}
	buf = readBuf(dst, size)
	if m, err := seg.log.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, storageErr("read", seg.name(), err)
	} else if m < len(buf) {
		clear(buf[m:])
	}
	return buf[:size:size], nil
}

// readBuf returns n bytes of dst's spare capacity if they fit, else a new
// buffer.
func readBuf(dst []byte, n int) []byte {
	if free := dst[len(dst):cap(dst)]; len(free) >= n {
		return free[:n]
	}
	return make([]byte, n)
}

// Close stops the syncer, fsyncs, writes the recovery point and a producer
// snapshot and closes the files. It is idempotent.
func (p *Partition) Close() error {
	p.closeOnce.Do(func() {
		p.maint.mu.Lock() // no segment removal or swap in progress
		defer p.maint.mu.Unlock()
		p.mu.Lock()
		defer p.mu.Unlock()
		close(p.done)
		<-p.syncerDone

		var errs []error
		if p.usable() == nil {
			errs = append(errs, p.flushForClose())
		}
		p.vmu.Lock()
		p.closed = true
		if p.failErr == nil {
			close(p.hwCh)
		}
		segs := p.segs
		p.vmu.Unlock()
		if len(segs) > 0 {
			segs[len(segs)-1].unreserve()
		}
		for _, s := range segs {
			errs = append(errs, s.close())
		}
		p.destroyPending()
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// flushForClose makes everything durable and records that in the recovery
// point, so the next Open scans nothing.
// REQUIRES: p.mu held, syncer stopped.
func (p *Partition) flushForClose() error {
	p.vmu.RLock()
	end := p.leo
	p.vmu.RUnlock()
	seg := end.seg
	if err := p.maybeTimeIndex(seg); err != nil {
		p.fail(err)
		return err
	}
	if err := seg.syncAll(); err != nil {
		p.fail(err)
		return err
	}
	p.vmu.Lock()
	p.synced = end
	p.advanceHWLocked(end)
	p.vmu.Unlock()
	if err := p.checkpoint(end, true); err != nil {
		return err
	}
	return p.writeProducerSnapshot(end.offset)
}

// Delete closes the partition and removes its directory: rename it to
// "<dir>.<random>-delete", fsync the parent, then remove it (OpenManager
// finishes deletions a crash interrupted).
func (p *Partition) Delete() error {
	doomed, err := p.detach()
	if err != nil {
		return err
	}
	return p.removeDetached(doomed)
}

// detach closes the partition and renames its directory out of the way, so
// a new partition of the same name can be created at once.
func (p *Partition) detach() (string, error) {
	cerr := p.Close()
	if cerr != nil && !errors.Is(cerr, ErrStorage) {
		return "", cerr
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	doomed := p.dir + "." + hex.EncodeToString(rnd[:]) + deleteSuffix
	if err := p.fs.Rename(p.dir, doomed); err != nil {
		return "", storageErr("rename", p.dir, err)
	}
	parent := filepath.Dir(p.dir)
	if err := p.fs.SyncDir(parent); err != nil {
		return "", storageErr("fsync dir", parent, err)
	}
	return doomed, nil
}

func (p *Partition) removeDetached(doomed string) error {
	if err := p.fs.RemoveAll(doomed); err != nil {
		return storageErr("remove", doomed, err)
	}
	parent := filepath.Dir(doomed)
	if err := p.fs.SyncDir(parent); err != nil {
		return storageErr("fsync dir", parent, err)
	}
	return nil
}
