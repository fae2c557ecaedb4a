package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// Log compaction (Kafka's LogCleaner; read its class comment). With
// cleanup.policy "compact", the cleaner keeps, for every key, only the
// record with the latest offset.
//
// A log is a clean section (offsets below the cleaner checkpoint,
// firstDirty, compacted before) followed by a dirty one. The dirty section
// ends at the first uncleanable offset: the active segment, a segment a
// log position (HW, synced point, log end) points into, or a segment with a
// record younger than min.compaction.lag.ms. The Manager's cleaner (one
// goroutine) picks the log whose dirty bytes are the largest share of its
// bytes, if that share reaches min.cleanable.dirty.ratio or its oldest dirty
// record is older than max.compaction.lag.ms, and cleans it:
//
//  1. It maps key -> latest offset over the dirty section. The map's memory
//     is bounded by log.cleaner.dedupe.buffer.size (24 bytes a key); when
//     it is full the pass ends there ("end") and the next pass goes on
//     from end.
//  2. It rewrites every segment below end, in groups of consecutive
//     segments that fit segment.bytes together (so repeated cleanings do
//     not leave ever smaller segments). A record at an offset below end is
//     dropped if the map has a later offset for its key, if it has no key
//     (Kafka drops those; Append refuses them on compacted topics), or if
//     it is a tombstone (null value) whose delete horizon has passed.
//     Records at or beyond end are kept as they are: the map does not
//     cover them.
//  3. Kept records keep their offsets: a batch losing records is rebuilt
//     (records.Build) with its base offset, last offset delta, producer id,
//     epoch and base sequence, codec and timestamps; the rest keep their
//     offset deltas, leaving gaps. A batch losing nothing is copied byte
//     for byte. A batch losing every record is dropped, except the last
//     batch of each producer (so its sequence survives, Kafka's rule 1)
//     and the last batch of the group (so the group's new segment ends
//     where the next segment starts): those stay as empty batches.
//  4. Tombstones (Kafka's KIP-534 delete horizon): the first time the
//     cleaner keeps a tombstone whose older values it has just removed,
//     it sets the batch's delete horizon flag and base timestamp to
//     now + delete.retention.ms (record timestamps are unchanged: their
//     deltas move with the base). A later cleaning after that time drops
//     the tombstone. Consumers that were behind get delete.retention.ms to
//     see it.
//  5. Transactions (Kafka's rules 2-4, reduced): the dirty section ends at
//     the last stable offset, so no record of a transaction that has not
//     ended (durably) is mapped or removed. Records of aborted transactions
//     (the partition's aborted list, txn.go) are never mapped, so they
//     cannot supersede committed values, and are dropped (their batches go
//     like any batch losing every record). Control batches are kept whole,
//     forever: Kafka removes a marker once its transaction's records are
//     gone and the delete horizon has passed; we do not (a marker is 70
//     bytes). The aborted list keeps its entries: an entry whose records
//     are gone filters nothing.
//
// A group is written to "<base>.log.cleaned" (and .index.cleaned,
// .timeindex.cleaned) and fsynced while produce and fetch go on. The swap,
// under Partition.maint.mu only: rename the .cleaned files to .swap, fsync
// the directory (from here recovery finishes the swap); rename the old
// segments' files to .deleted; rename the .swap files to their final names;
// fsync the directory; then replace the segments in the view (a brief vmu
// write lock). Reads holding an old segment keep using it: its handles are
// closed after file.delete.delay.ms and once no read uses it (segLife).
// At Open, a .log.swap completes its swap (Kafka's LogLoader): the segments
// whose base falls in its offset range are deleted and the .swap files
// renamed; .cleaned and .deleted files are removed.

// Suffixes of the cleaner's files in progress. Part of the on-disk format
// (Kafka's LogFileUtils).
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// Byte offsets in a batch header (records' package doc, wire format).
const (
	attrOff      = 21
	lastDeltaOff = 23
	baseTsOff    = 27
	maxTsOff     = 35
	crcOff       = 17
)

// cleanerCheckBatches is how often (in batches) a cleaning checks whether
// it was stopped or its partition closed.
const cleanerCheckBatches = 256

var errCleanAborted = errors.New("log: cleaning aborted")

// checkKeys rejects a batch with a record without a key, as Kafka does for
// compacted topics (LogValidator.validateKey): the cleaner could never
// compact it.
func (p *Partition) checkKeys(batch []byte) error {
	errNoKey := errors.New("no key")
	_, err := records.Iterate(batch, 0, func(r *records.Record) error {
		if r.Key == nil {
			return errNoKey
		}
		return nil
	})
	if errors.Is(err, errNoKey) {
		return fmt.Errorf("%w: Compacted topic cannot accept message without key in topic partition %s-%d", records.ErrInvalid, p.topic, p.partition)
	}
	return err
}

// offsetMap is the cleaner's key -> latest offset map (Kafka's
// SkimpyOffsetMap): open addressing over 128-bit key hashes, 24 bytes a
// slot, filled to at most 90% of its slots. Two keys whose 128-bit hashes
// collide would share an entry; with random seeds (maphash) that cannot be
// provoked and is vanishingly unlikely.
type offsetMap struct {
	h         []uint64 // two per slot; 0, 0 is a free slot
	offs      []int64
	used, max int
	seedA     maphash.Seed
	seedB     maphash.Seed
	peak      int // most slots ever allocated, for tests
	maxSlots  int
}

// offsetMapSlotSize is the memory of one slot.
const offsetMapSlotSize = 24

// offsetMapLoad is the share of slots the map fills (Kafka's
// log.cleaner.io.buffer.load.factor default).
const offsetMapLoad = 0.9

func newOffsetMap(bufferSize int64) offsetMap {
	slots := max(bufferSize/offsetMapSlotSize, 2)
	return offsetMap{seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed(), maxSlots: int(min(slots, math.MaxInt32))}
}

// reset empties the map with room for about want keys, within the buffer.
func (m *offsetMap) reset(want int64) {
	slots := int(min(int64(float64(want)/offsetMapLoad)+2, int64(m.maxSlots)))
	if cap(m.offs) < slots {
		m.h, m.offs = nil, nil // let the old table go first
		m.h, m.offs = make([]uint64, 2*slots), make([]int64, slots)
	} else {
		m.h, m.offs = m.h[:2*slots], m.offs[:slots]
		clear(m.h)
	}
	m.peak = max(m.peak, slots)
	m.used = 0
	m.max = max(int(float64(slots)*offsetMapLoad), 1)
}

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	a, b := maphash.Bytes(m.seedA, key), maphash.Bytes(m.seedB, key)
	if a == 0 && b == 0 {
		b = 1
	}
	return a, b
}

// slot returns the slot holding the hash, or the free slot where it goes.
func (m *offsetMap) slot(a, b uint64) int {
	n := len(m.offs)
	hi, _ := bits.Mul64(a, uint64(n))
	i := int(hi)
	for {
		ha, hb := m.h[2*i], m.h[2*i+1]
		if (ha == a && hb == b) || (ha == 0 && hb == 0) {
			return i
		}
		if i++; i == n {
			i = 0
		}
	}
}

// put records offset for key; it returns false, changing nothing, when
// the key is new and the map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	a, b := m.hash(key)
	i := m.slot(a, b)
	if m.h[2*i] == 0 && m.h[2*i+1] == 0 {
		if m.used >= m.max {
			return false
		}
		m.h[2*i], m.h[2*i+1] = a, b
		m.used++
	}
	m.offs[i] = offset
	return true
}

// get returns the latest offset of key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	a, b := m.hash(key)
	i := m.slot(a, b)
	if m.h[2*i] == 0 && m.h[2*i+1] == 0 {
		return -1
	}
	return m.offs[i]
}

// cleaner compacts logs, one at a time. Its map is reused between
// cleanings.
type cleaner struct {
	m      offsetMap
	stop   <-chan struct{} // closed: abandon the cleaning
	logger *slog.Logger
}

func newCleaner(bufferSize int64, stop <-chan struct{}, logger *slog.Logger) *cleaner {
	return &cleaner{m: newOffsetMap(bufferSize), stop: stop, logger: logger}
}

// aborted reports whether the cleaning of p must stop.
func (c *cleaner) aborted(p *Partition) bool {
	select {
	case <-c.stop:
		return true
	default:
	}
	return p.usable() != nil
}

func (m *Manager) runCleaner() {
	defer m.bg.wg.Done()
	c := newCleaner(m.opts.CleanerBufferSize, m.bg.stop, m.opts.Logger)
	for {
		if !m.cleanFilthiest(c) {
			select {
			case <-m.bg.stop:
				return
			case <-time.After(m.opts.CleanerBackoff):
			}
		}
		select {
		case <-m.bg.stop:
			return
		default:
		}
	}
}

// cleanFilthiest cleans the compacted log that needs it most, if any, and
// reports whether it made progress.
func (m *Manager) cleanFilthiest(c *cleaner) bool {
	var (
		best      *Partition
		bestRatio = -1.0
	)
	for _, p := range m.All() {
		cfg := p.cfg.Load()
		if !cfg.Compact || p.maint.uncleanable.Load() {
			continue
		}
		r, ok, err := p.cleanable(p.now().UnixMilli())
		if err != nil || !ok {
			continue
		}
		if r.ratio >= cfg.MinCleanableDirtyRatio || r.overdue {
			if r.ratio > bestRatio {
				best, bestRatio = p, r.ratio
			}
		}
	}
	if best == nil {
		return false
	}
	progressed, err := best.clean(c)
	if err != nil && !errors.Is(err, errCleanAborted) && !errors.Is(err, ErrClosed) {
		best.logger.Error("log cleaning failed; not cleaning this log again until it is reopened", "err", err)
		best.maint.uncleanable.Store(true)
	}
	return progressed
}

// cleanRange is the cleanable part of a log.
type cleanRange struct {
	all                     []*segment // the view it was computed on
	stable                  int        // all[:stable] may be rewritten
	logStart                int64
	firstDirty, uncleanable int64
	cleanBytes, dirtyBytes  int64
	ratio                   float64
	overdue                 bool // max.compaction.lag.ms has passed for some dirty record
}

// cleanable computes the log's clean and dirty sections; ok is false if
// nothing is cleanable.
func (p *Partition) cleanable(now int64) (r cleanRange, ok bool, err error) {
	cfg := p.cfg.Load()
	p.vmu.RLock()
	r.all, r.stable = p.segs, p.stablePrefixLocked()
	logStart, closed, lso := p.maint.logStart, p.closed, p.lsoLocked()
	p.vmu.RUnlock()
	r.logStart = logStart
	if closed || r.stable == 0 {
		return r, false, nil
	}
	segs := r.all
	r.firstDirty = max(p.maint.firstDirty.Load(), logStart)
	r.uncleanable = min(segs[r.stable].base, lso) // rule 5
	if cfg.MinCompactionLagMs > 0 {
		for i := 0; i < r.stable && segs[i].base < r.uncleanable; i++ {
			if segs[i+1].base <= r.firstDirty {
				continue
			}
			if !segs[i].acquire() {
				return r, false, nil
			}
			ts, _, err := segs[i].maxTimestamp()
			segs[i].release()
			if err != nil {
				return r, false, err
			}
			if ts > now-cfg.MinCompactionLagMs {
				r.uncleanable = max(segs[i].base, r.firstDirty)
				break
			}
		}
	}
	if r.firstDirty >= r.uncleanable {
		return r, false, nil
	}
	earliest := int64(math.MaxInt64)
	for i := 0; i < r.stable; i++ {
		s, next := segs[i], segs[i+1].base
		switch {
		case next <= logStart:
		case next <= r.firstDirty:
			r.cleanBytes += s.size.Load()
		case s.base < r.uncleanable:
			r.dirtyBytes += s.size.Load()
			if cfg.MaxCompactionLagMs < math.MaxInt64 {
				if ts := firstBatchTimestamp(s); ts > 0 {
					earliest = min(earliest, ts)
				}
			}
		}
	}
	if r.dirtyBytes == 0 {
		return r, false, nil
	}
	r.ratio = float64(r.dirtyBytes) / float64(r.cleanBytes+r.dirtyBytes)
	r.overdue = earliest < math.MaxInt64 && now-earliest > cfg.MaxCompactionLagMs
	return r, true, nil
}

// firstBatchTimestamp is the max timestamp of a segment's first batch
// (Kafka's LogSegment.getFirstBatchTimestamp), or -1.
func firstBatchTimestamp(s *segment) int64 {
	if !s.acquire() {
		return -1
	}
	defer s.release()
	var hdr [records.HeaderSize]byte
	if _, err := s.log.ReadAt(hdr[:], 0); err != nil {
		return -1
	}
	h, err := records.ParseHeader(hdr[:])
	if err != nil {
		return -1
	}
	return h.MaxTimestamp
}

// clean runs one cleaning pass over the log and reports whether it moved
// the cleaner checkpoint.
func (p *Partition) clean(c *cleaner) (progressed bool, err error) {
	p.maint.cleanMu.Lock()
	defer p.maint.cleanMu.Unlock()
	defer func() {
		if err != nil && c.aborted(p) {
			// Read errors of a partition closed (or failed) under us.
			err = errCleanAborted
		}
	}()
	if c.aborted(p) {
		return false, errCleanAborted
	}
	cfg := p.cfg.Load()
	now := p.now().UnixMilli()
	r, ok, err := p.cleanable(now)
	if err != nil || !ok {
		return false, err
	}
	// The segments the pass reads: every stable one below the uncleanable
	// offset. References keep their files open even if retention removes
	// them meanwhile (the swap then finds them gone and skips the group).
	var segs []*segment
	for i := 0; i < r.stable && r.all[i].base < r.uncleanable; i++ {
		if !r.all[i].acquire() {
			for _, s := range segs {
				s.release()
			}
			return false, nil
		}
		segs = append(segs, r.all[i])
	}
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()
	nextBase := func(i int) int64 { return r.all[i+1].base }

	// Kafka's rule 1: the last batch of each producer stays.
	p.mu.Lock()
	lastOf := make(map[int64]int64, len(p.producers.m))
	for pid, e := range p.producers.m {
		if e.n > 0 {
			lastOf[pid] = e.batches[e.n-1].lastOffset
		}
	}
	p.mu.Unlock()

	// Rule 5: every aborted transaction with records below the uncleanable
	// offset (which is at most the LSO) has its marker durable and listed.
	ab := newAbortedSet(p.AbortedTxns(r.logStart, r.uncleanable))

	start := time.Now()
	end, err := c.buildMap(p, segs, r.firstDirty, r.uncleanable, ab)
	if err != nil {
		return false, err
	}
	if end <= r.firstDirty {
		return false, nil
	}
	n := 0 // segments to rewrite: those below end
	for n < len(segs) && segs[n].base < end {
		n++
	}
	f := filter{c: c, end: end, now: now, cfg: cfg, lastOf: lastOf, ab: ab}
	swapped, skipped := 0, 0
	i0 := 0 // segments wholly below the log start are retention's
	for i0 < n && nextBase(i0) <= r.logStart {
		i0++
	}
	for i := i0; i < n; {
		// A group: consecutive segments that fit segment.bytes together,
		// with offsets the indexes can represent.
		j, size := i+1, segs[i].size.Load()
		for j < n && size+segs[j].size.Load() <= cfg.SegmentBytes && nextBase(j)-1-segs[i].base <= math.MaxInt32 {
			size += segs[j].size.Load()
			j++
		}
		done, err := p.cleanGroup(&f, segs[i:j], nextBase(j-1))
		if err != nil {
			return false, err
		}
		if done {
			swapped++
		} else {
			skipped++
		}
		i = j
	}
	if f.lostGroup {
		// Retention took some of the segments meanwhile: map again later.
		return false, nil
	}
	if err := p.setFirstDirty(end); err != nil {
		return false, err
	}
	p.logger.Info("cleaned log", "dirty_from", r.firstDirty, "dirty_to", end, "uncleanable", r.uncleanable,
		"groups_swapped", swapped, "groups_unchanged", skipped, "records_dropped", f.dropped,
		"tombstones_dropped", f.tombstones, "map_keys", c.m.used, "map_slots", len(c.m.offs),
		"elapsed", time.Since(start).Round(time.Millisecond))
	return true, nil
}

// setFirstDirty persists the cleaner checkpoint.
func (p *Partition) setFirstDirty(off int64) error {
	p.maint.mu.Lock()
	defer p.maint.mu.Unlock()
	if err := p.usable(); err != nil {
		return errCleanAborted
	}
	if err := writeFileAtomic(p.fs, p.dir, cleanerFile, encodeOffsetCheckpoint(off)); err != nil {
		p.fail(err)
		return err
	}
	p.maint.firstDirty.Store(off)
	return nil
}

// buildMap maps key -> latest offset for the records in [from, to) of segs
// and returns where the map ends: to, or the offset of the first record it
// had no room for. Records of aborted transactions (ab) are not mapped.
func (c *cleaner) buildMap(p *Partition, segs []*segment, from, to int64, ab abortedSet) (int64, error) {
	c.m.reset(to - from)
	batches := 0
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].base <= from {
			continue
		}
		if s.base >= to {
			break
		}
		limit := s.size.Load()
		pos := int64(0)
		if s.base < from {
			var err error
			if pos, err = s.find(from, limit); err != nil {
				return from, err
			}
			if pos < 0 {
				continue
			}
		}
		br := newBatchReader(s.log, pos, limit)
		for {
			b, bpos, err := br.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return from, fmt.Errorf("%s at %d: %w", s.name(), bpos, err)
			}
			if batches++; batches%cleanerCheckBatches == 0 && c.aborted(p) {
				return from, errCleanAborted
			}
			h, err := records.ParseHeader(b)
			if err != nil {
				return from, fmt.Errorf("%s at %d: %w", s.name(), bpos, err)
			}
			if h.BaseOffset >= to {
				return to, nil
			}
			if h.LastOffset() < from || h.IsControl() || ab.has(&h) {
				continue
			}
			full := int64(-1)
			errFull := errors.New("full")
			_, err = records.Iterate(b, 0, func(r *records.Record) error {
				off := h.BaseOffset + int64(r.OffsetDelta)
				if off < from || off >= to || r.Key == nil {
					return nil
				}
				if !c.m.put(r.Key, off) {
					full = off
					return errFull
				}
				return nil
			})
			if full >= 0 {
				return full, nil
			}
			if err != nil {
				return from, fmt.Errorf("%s at %d: %w", s.name(), bpos, err)
			}
		}
	}
	return to, nil
}

// filter decides, batch by batch, what a cleaning pass keeps.
type filter struct {
	c      *cleaner
	end    int64 // the map covers offsets below end
	now    int64
	cfg    *Config
	lastOf map[int64]int64 // producer id -> last offset of its last batch
	ab     abortedSet

	dropped, tombstones int64
	lostGroup           bool
	batches             int
}

// batch returns what to write for the batch b: b itself, a rebuilt batch,
// or nil when every record goes. changed reports anything but b itself.
func (f *filter) batch(b []byte, h *records.Header) (out []byte, changed bool, err error) {
	if h.IsControl() {
		return b, false, nil // rule 5
	}
	if f.ab.has(h) {
		f.dropped += int64(h.NumRecords)
		return nil, true, nil
	}
	hasHorizon := h.Attributes&records.DeleteHorizonBit != 0
	var (
		keep        []records.Record
		dropped     int
		tombInRange bool
	)
	_, err = records.Iterate(b, 0, func(r *records.Record) error {
		off := h.BaseOffset + int64(r.OffsetDelta)
		retain := true
		if off < f.end {
			switch {
			case r.Key == nil:
				retain = false
			case f.c.m.get(r.Key) > off:
				retain = false
			case r.Value == nil && hasHorizon && f.now >= h.BaseTimestamp:
				retain = false
				f.tombstones++
			}
		}
		if !retain {
			dropped++
			return nil
		}
		if r.Value == nil && off < f.end {
			tombInRange = true
		}
		rec := *r
		rec.Headers = slices.Clone(r.Headers)
		keep = append(keep, rec)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	f.dropped += int64(dropped)
	// The first cleaning that keeps a tombstone whose key it has mapped
	// sets the delete horizon. A batch straddling end waits for the pass
	// that maps all of it.
	setHorizon := !hasHorizon && tombInRange && h.LastOffset() < f.end
	if dropped == 0 && !setHorizon {
		return b, false, nil
	}
	if len(keep) == 0 {
		return nil, true, nil
	}
	opts := buildOptionsOf(h)
	if setHorizon {
		horizon := f.now + f.cfg.DeleteRetentionMs
		for i := range keep {
			keep[i].TimestampDelta += h.BaseTimestamp - horizon
		}
		opts.BaseTimestamp = horizon
	}
	out, err = records.Build(opts, keep)
	if err != nil {
		return nil, false, err
	}
	attrs := binary.BigEndian.Uint16(out[attrOff:])
	if hasHorizon || setHorizon {
		attrs |= records.DeleteHorizonBit
	}
	binary.BigEndian.PutUint16(out[attrOff:], attrs)
	binary.BigEndian.PutUint32(out[lastDeltaOff:], uint32(h.LastOffsetDelta))
	if h.TimestampType() == records.TimestampLogAppend {
		binary.BigEndian.PutUint64(out[maxTsOff:], uint64(h.MaxTimestamp))
	}
	binary.BigEndian.PutUint32(out[crcOff:], records.Checksum(out))
	return out, true, nil
}

func buildOptionsOf(h *records.Header) records.BuildOptions {
	return records.BuildOptions{
		BaseOffset:           h.BaseOffset,
		Codec:                h.Codec(),
		ProducerID:           h.ProducerID,
		ProducerEpoch:        h.ProducerEpoch,
		BaseSequence:         h.BaseSequence,
		Transactional:        h.IsTransactional(),
		BaseTimestamp:        h.BaseTimestamp,
		LogAppendTime:        h.TimestampType() == records.TimestampLogAppend,
		PartitionLeaderEpoch: h.PartitionLeaderEpoch,
	}
}

// emptyBatch is h's batch without records (Kafka's RETAIN_EMPTY): it keeps
// the offsets, producer and sequence range, and its max timestamp.
func emptyBatch(h *records.Header) ([]byte, error) {
	opts := buildOptionsOf(h)
	opts.Codec = records.CodecNone
	opts.BaseTimestamp = h.MaxTimestamp
	b, err := records.Build(opts, nil)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(b[lastDeltaOff:], uint32(h.LastOffsetDelta))
	binary.BigEndian.PutUint64(b[baseTsOff:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(b[maxTsOff:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint32(b[crcOff:], records.Checksum(b))
	return b, nil
}

// cleanGroup rewrites group (consecutive segments, the last one followed
// by a segment at nextBase) into one segment and swaps it in. done is false
// when nothing changed or the group left the log meanwhile.
func (p *Partition) cleanGroup(f *filter, group []*segment, nextBase int64) (done bool, err error) {
	base := group[0].base
	w, err := newSegmentWriter(p.fs, p.dir, base, p.cfg.Load().IndexIntervalBytes)
	if err != nil {
		return false, err
	}
	defer w.abandon() // no-op once committed
	changed := len(group) > 1
	var lastDropped *records.Header // the last batch read, if it was dropped
	for _, s := range group {
		br := newBatchReader(s.log, 0, s.size.Load())
		for {
			b, bpos, err := br.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return false, fmt.Errorf("%s at %d: %w", s.name(), bpos, err)
			}
			if f.batches++; f.batches%cleanerCheckBatches == 0 && f.c.aborted(p) {
				return false, errCleanAborted
			}
			h, err := records.ParseHeader(b)
			if err != nil {
				return false, fmt.Errorf("%s at %d: %w", s.name(), bpos, err)
			}
			out, ch, err := f.batch(b, &h)
			if err != nil {
				return false, fmt.Errorf("%s at %d: %w", s.name(), bpos, err)
			}
			changed = changed || ch
			lastDropped = nil
			if out == nil {
				if last, ok := f.lastOf[h.ProducerID]; !ok || h.ProducerID < 0 || last != h.LastOffset() {
					hh := h
					lastDropped = &hh
					continue
				}
				if out, err = emptyBatch(&h); err != nil {
					return false, err
				}
			}
			if err := w.write(out, &h); err != nil {
				return false, err
			}
		}
	}
	if lastDropped != nil {
		// The group's new segment must end where the next one starts.
		out, err := emptyBatch(lastDropped)
		if err != nil {
			return false, err
		}
		if err := w.write(out, lastDropped); err != nil {
			return false, err
		}
	}
	if !changed {
		return false, nil
	}
	if w.next != nextBase {
		return false, fmt.Errorf("log: cleaned segment %d ends at %d, not at the next segment's base %d", base, w.next, nextBase)
	}
	if err := w.finish(); err != nil {
		return false, err
	}
	ok, err := p.swapIn(group, w)
	if !ok {
		f.lostGroup = f.lostGroup || err == nil
	}
	return ok, err
}

// segmentWriter writes a cleaned segment and its indexes to ".cleaned"
// files, with the index rules of Append and recovery.
type segmentWriter struct {
	fs       vfs.FS
	dir      string
	base     int64
	interval int

	files [3]vfs.File // .log, .index, .timeindex (cleaned)
	bw    *bufio.Writer
	pos   int64
	next  int64 // offset after the last batch written

	bytesSince      int
	offs, times     []byte
	maxTs, maxTsOff int64
	lastTime        int64
	committed       bool
}

var segmentSuffixes = [3]string{logSuffix, indexSuffix, timeIndexSuffix}

func newSegmentWriter(fs vfs.FS, dir string, base int64, interval int) (*segmentWriter, error) {
	w := &segmentWriter{fs: fs, dir: dir, base: base, interval: interval, next: base, maxTs: -1, maxTsOff: -1, lastTime: -1}
	for i, suf := range segmentSuffixes {
		path := fileName(dir, base, suf) + cleanedSuffix
		f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			w.abandon()
			return nil, storageErr("create", path, err)
		}
		w.files[i] = f
	}
	w.bw = bufio.NewWriterSize(w.files[0], 256<<10)
	return w, nil
}

func (w *segmentWriter) write(b []byte, h *records.Header) error {
	if w.bytesSince >= w.interval {
		var e [offsetEntrySize]byte
		putOffsetEntry(e[:], relOffset(h.BaseOffset, w.base), uint32(w.pos))
		w.offs = append(w.offs, e[:]...)
		w.bytesSince = 0
		if w.maxTs > w.lastTime {
			var t [timeEntrySize]byte
			putTimeEntry(t[:], w.maxTs, relOffset(w.maxTsOff, w.base))
			w.times = append(w.times, t[:]...)
			w.lastTime = w.maxTs
		}
	}
	if h.MaxTimestamp > w.maxTs {
		w.maxTs, w.maxTsOff = h.MaxTimestamp, h.BaseOffset
	}
	if _, err := w.bw.Write(b); err != nil {
		return storageErr("write", w.files[0].Name(), err)
	}
	w.bytesSince += len(b)
	w.pos += int64(len(b))
	w.next = h.LastOffset() + 1
	return nil
}

// finish writes the indexes (with the final time index entry of a closed
// segment), fsyncs the three files and closes them.
func (w *segmentWriter) finish() error {
	if w.maxTs > w.lastTime {
		var t [timeEntrySize]byte
		putTimeEntry(t[:], w.maxTs, relOffset(w.maxTsOff, w.base))
		w.times = append(w.times, t[:]...)
	}
	if err := w.bw.Flush(); err != nil {
		return storageErr("write", w.files[0].Name(), err)
	}
	for i, data := range [][]byte{nil, w.offs, w.times} {
		f := w.files[i]
		if len(data) > 0 {
			if _, err := f.Write(data); err != nil {
				return storageErr("write", f.Name(), err)
			}
		}
		if err := f.Sync(); err != nil {
			return storageErr("fsync", f.Name(), err)
		}
	}
	for i, f := range w.files {
		w.files[i] = nil
		if err := f.Close(); err != nil {
			return storageErr("close", f.Name(), err)
		}
	}
	return nil
}

// abandon closes and removes the .cleaned files unless they were swapped in.
func (w *segmentWriter) abandon() {
	if w.committed {
		return
	}
	for i, f := range w.files {
		if f != nil {
			_ = f.Close()
			w.files[i] = nil
		}
	}
	for _, suf := range segmentSuffixes {
		_ = w.fs.Remove(fileName(w.dir, w.base, suf) + cleanedSuffix)
	}
}

// swapIn replaces group by the finished cleaned segment of w. ok is false
// (with a nil error) when the group is no longer in the log: retention
// removed some of it meanwhile.
func (p *Partition) swapIn(group []*segment, w *segmentWriter) (ok bool, err error) {
	p.maint.mu.Lock()
	defer p.maint.mu.Unlock()
	if err := p.usable(); err != nil {
		return false, errCleanAborted
	}
	p.vmu.RLock()
	i := slices.Index(p.segs, group[0])
	ok = i >= 0 && i+len(group) <= p.stablePrefixLocked() && slices.Equal(p.segs[i:i+len(group)], group)
	p.vmu.RUnlock()
	if !ok {
		return false, nil
	}
	fail := func(err error) (bool, error) { p.fail(err); return false, err }
	base := w.base
	// 1. .cleaned -> .swap, the .log last: a .log.swap means the whole set
	// is durable, and Open finishes the swap.
	for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
		from := fileName(p.dir, base, suf) + cleanedSuffix
		if err := p.fs.Rename(from, fileName(p.dir, base, suf)+swapSuffix); err != nil {
			return fail(storageErr("rename", from, err))
		}
	}
	w.committed = true
	if err := p.fs.SyncDir(p.dir); err != nil {
		return fail(storageErr("fsync dir", p.dir, err))
	}
	// 2. The old segments' files -> .deleted (their handles stay open).
	for _, s := range group {
		for _, suf := range segmentSuffixes {
			path := fileName(p.dir, s.base, suf)
			if err := p.fs.Rename(path, path+deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fail(storageErr("rename", path, err))
			}
		}
	}
	// 3. .swap -> final names, the .log last.
	for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
		from := fileName(p.dir, base, suf) + swapSuffix
		if err := p.fs.Rename(from, fileName(p.dir, base, suf)); err != nil {
			return fail(storageErr("rename", from, err))
		}
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		return fail(storageErr("fsync dir", p.dir, err))
	}
	ns, err := openSegment(p.fs, p.dir, base, false)
	if err != nil {
		return fail(err)
	}
	ns.setMaxTimestamp(w.maxTs, w.maxTsOff)
	p.vmu.Lock()
	segs := make([]*segment, 0, len(p.segs)-len(group)+1)
	segs = append(segs, p.segs[:i]...)
	segs = append(segs, ns)
	segs = append(segs, p.segs[i+len(group):]...)
	p.segs = segs
	p.vmu.Unlock()
	p.scheduleDestroy(group)
	return true, nil
}

// finishCleanerFiles brings the directory to a state without cleaner or
// deletion leftovers before Open reads the segments (Kafka's LogLoader):
// a "<base>.log.swap" completes its swap (the segments whose base falls in
// its offset range are deleted, the .swap files renamed); .cleaned and
// .deleted files, and .swap indexes without their .log.swap, are removed.
// It returns the directory's names afterwards.
func (l *loader) finishCleanerFiles(names []string) ([]string, error) {
	fs, dir := l.fs, l.dir
	var bases []int64
	for _, name := range names {
		if off, ok := parseFileName(name, logSuffix); ok {
			bases = append(bases, off)
		}
	}
	changed := false
	for _, name := range names {
		base, ok := parseFileName(name, logSuffix+swapSuffix)
		if !ok {
			continue
		}
		path := filepath.Join(dir, name)
		end, err := swapEnd(fs, path)
		if err != nil {
			return nil, fmt.Errorf("log: finishing the swap of %s: %w", path, err)
		}
		for _, b := range bases {
			if b < base || b >= end {
				continue
			}
			for _, suf := range segmentSuffixes {
				p := fileName(dir, b, suf)
				if err := fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					return nil, storageErr("remove", p, err)
				}
			}
		}
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			p := fileName(dir, base, suf)
			if err := fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, storageErr("remove", p, err)
			}
		}
		// Indexes first: a missing one is rebuilt.
		for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
			from := fileName(dir, base, suf) + swapSuffix
			if err := fs.Rename(from, fileName(dir, base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, storageErr("rename", from, err)
			}
		}
		l.p.logger.Info("finished an interrupted cleaner swap", "file", fileName(dir, base, logSuffix), "next_offset", end)
		changed = true
	}
	if changed {
		var err error
		if names, err = fs.ReadDir(dir); err != nil {
			return nil, storageErr("read dir", dir, err)
		}
	}
	kept := names[:0:0]
	for _, name := range names {
		if strings.HasSuffix(name, cleanedSuffix) || strings.HasSuffix(name, swapSuffix) || strings.HasSuffix(name, deletedSuffix) {
			if err := fs.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, storageErr("remove", name, err)
			}
			changed = true
			continue
		}
		kept = append(kept, name)
	}
	if changed {
		l.dirDirty = true
	}
	return kept, nil
}

// swapEnd returns the offset after the last batch of a finished (fsynced)
// cleaned segment.
func swapEnd(fs vfs.FS, path string) (int64, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, err
	}
	end := int64(-1)
	r := newBatchReader(f, 0, size)
	for {
		b, pos, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("at %d: %w", pos, err)
		}
		h, err := records.ParseHeader(b)
		if err != nil {
			return 0, fmt.Errorf("at %d: %w", pos, err)
		}
		end = h.LastOffset() + 1
	}
	if end < 0 {
		return 0, errors.New("no batch")
	}
	return end, nil
}
