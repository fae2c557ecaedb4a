package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
)

// Producer state for idempotence (Kafka's ProducerStateManager, reduced):
// per producer id, its epoch and its last five batches. It is changed only
// under Partition.mu, survives restarts through snapshots written on roll and
// on Close, and is rebuilt after a crash by replaying batch headers after the
// newest snapshot, so a retry of an acknowledged batch is still recognised
// as a duplicate.

// maxCachedBatches is how many batches per producer we remember for
// duplicate detection: max.in.flight.requests.per.connection for
// idempotent producers is at most 5.
const maxCachedBatches = 5

// batchMeta describes one appended batch of a producer.
type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	maxTimestamp            int64
	transactional           bool // kept so transactions can be added later
}

// producerEntry is the state of one producer id.
type producerEntry struct {
	epoch   int16
	n       int
	batches [maxCachedBatches]batchMeta // oldest first
	// txnOpen is set while the producer has a transaction open on the
	// partition, which started at txnFirst (txn.go).
	txnOpen  bool
	txnFirst int64
	// lastAppend is the wall-clock time (unix ms) of the producer's last
	// append, or of the start-up that loaded it; not persisted.
	lastAppend int64
}

// lastActive is the later of the producer's last append (or load) and
// its newest batch's max timestamp (Kafka's lastTimestamp).
func (e *producerEntry) lastActive() int64 {
	t := e.lastAppend
	if e.n > 0 {
		t = max(t, e.batches[e.n-1].maxTimestamp)
	}
	return t
}

// expire forgets the producers idle since before cutoff (unix ms) with no
// transaction open, as Kafka's producer.id.expiration.ms; it returns how
// many. A forgotten producer may go on writing: an unknown producer id may
// start at any sequence; only the retries of its batches from before are
// no longer recognised.
func (s *producerState) expire(cutoff int64) int {
	n := 0
	for pid, e := range s.m {
		if !e.txnOpen && e.lastActive() < cutoff {
			delete(s.m, pid)
			n++
		}
	}
	return n
}

func (e *producerEntry) add(b batchMeta) {
	if e.n == maxCachedBatches {
		copy(e.batches[:], e.batches[1:])
		e.n--
	}
	e.batches[e.n] = b
	e.n++
}

// producerState maps producer ids to their state. Guarded by Partition.mu.
type producerState struct {
	m map[int64]*producerEntry
}

func newProducerState() *producerState { return &producerState{m: map[int64]*producerEntry{}} }

// producerAppend stages the changes one Append makes, so that later batches
// of the same append are checked against earlier ones and nothing changes if
// the append fails.
type producerAppend struct {
	s      *producerState
	staged []stagedProducer
}

type stagedProducer struct {
	pid int64
	e   producerEntry
}

func (s *producerState) begin() producerAppend { return producerAppend{s: s} }

func (a *producerAppend) lookup(pid int64) *producerEntry {
	for i := range a.staged {
		if a.staged[i].pid == pid {
			return &a.staged[i].e
		}
	}
	return a.s.m[pid]
}

// inSequence reports whether next follows last; sequences wrap at MaxInt32.
func inSequence(last, next int32) bool {
	return next == last+1 || (last == 1<<31-1 && next == 0)
}

// check applies Kafka's rules to the batch h, in order: a stale epoch is
// fenced; a batch equal to a cached one is a duplicate (returned); a newer
// epoch must start at sequence 0; the same epoch must continue the sequence.
// An unknown producer id may start anywhere.
func (a *producerAppend) check(h *records.Header) (*batchMeta, error) {
	e := a.lookup(h.ProducerID)
	if e == nil {
		return nil, nil
	}
	if h.ProducerEpoch < e.epoch {
		return nil, fmt.Errorf("%w: producer %d epoch %d is older than %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	first, last := h.BaseSequence, h.LastSequence()
	if h.ProducerEpoch == e.epoch {
		for i := 0; i < e.n; i++ {
			if b := &e.batches[i]; b.firstSeq == first && b.lastSeq == last {
				dup := *b
				return &dup, nil
			}
		}
	}
	if e.txnOpen && !h.IsTransactional() {
		// Kafka's INVALID_TXN_STATE (after the duplicate check, as Kafka):
		// only a marker ends the transaction.
		return nil, fmt.Errorf("%w: producer %d has a transaction open since offset %d; its batch is not transactional", ErrInvalidTxnState, h.ProducerID, e.txnFirst)
	}
	if h.ProducerEpoch == e.epoch {
		if e.n == 0 {
			if first != 0 {
				return nil, fmt.Errorf("%w: producer %d epoch %d: sequence %d, expected 0", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, first)
			}
			return nil, nil
		}
		if prev := e.batches[e.n-1].lastSeq; !inSequence(prev, first) {
			return nil, fmt.Errorf("%w: producer %d epoch %d: sequence %d after %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, first, prev)
		}
		return nil, nil
	}
	if first != 0 {
		return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, not %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, first)
	}
	return nil, nil
}

// update stages the batch h, whose offsets are assigned.
func (a *producerAppend) update(h *records.Header) {
	e := a.lookup(h.ProducerID)
	if e == nil || !a.isStaged(e) {
		st := stagedProducer{pid: h.ProducerID}
		if e != nil {
			st.e = *e
		} else {
			st.e.epoch = h.ProducerEpoch
		}
		a.staged = append(a.staged, st)
		e = &a.staged[len(a.staged)-1].e
	}
	applyBatch(e, h)
}

func (a *producerAppend) isStaged(e *producerEntry) bool {
	for i := range a.staged {
		if &a.staged[i].e == e {
			return true
		}
	}
	return false
}

// commit makes the staged changes the producer state; now (unix ms) is
// the time of the append.
func (a *producerAppend) commit(now int64) {
	for i := range a.staged {
		e := a.staged[i].e
		e.lastAppend = now
		a.s.m[a.staged[i].pid] = &e
	}
	a.staged = a.staged[:0]
}

func applyBatch(e *producerEntry, h *records.Header) {
	if h.ProducerEpoch != e.epoch {
		e.epoch, e.n = h.ProducerEpoch, 0
	}
	if h.IsTransactional() && !e.txnOpen {
		e.txnOpen, e.txnFirst = true, h.BaseOffset
	}
	e.add(batchMeta{
		firstSeq:      h.BaseSequence,
		lastSeq:       h.LastSequence(),
		firstOffset:   h.BaseOffset,
		lastOffset:    h.LastOffset(),
		maxTimestamp:  h.MaxTimestamp,
		transactional: h.IsTransactional(),
	})
}

// replay applies a batch read back from the log, without checks.
func (s *producerState) replay(h *records.Header) {
	e := s.m[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch}
		s.m[h.ProducerID] = e
	}
	applyBatch(e, h)
}

// Snapshot file "<offset>.snapshot": the producer state after every batch
// below offset. Wire format (big-endian):
//
//	version int16 (2) | crc uint32 (CRC-32C of the rest) | count int32 |
//	count × ( producerId int64 | epoch int16 | txnFirst int64 (v2; -1: no
//	          transaction open) | batchCount int8 |
//	          batchCount × ( firstSeq int32 | lastSeq int32 |
//	                         firstOffset int64 | lastOffset int64 |
//	                         maxTimestamp int64 | flags int8 (bit 0 transactional) ) )
//
// Version 1 (before transactions) has no txnFirst and is still read.
const (
	snapshotVersion   = 2
	snapshotEntrySize = 8 + 2 + 8 + 1
	snapshotBatchSize = 4 + 4 + 8 + 8 + 8 + 1
)

func (s *producerState) encode() []byte {
	pids := make([]int64, 0, len(s.m))
	for pid := range s.m {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	b := make([]byte, 10, 10+len(pids)*(snapshotEntrySize+2*snapshotBatchSize))
	binary.BigEndian.PutUint16(b[0:], snapshotVersion)
	binary.BigEndian.PutUint32(b[6:], uint32(len(pids)))
	for _, pid := range pids {
		e := s.m[pid]
		b = binary.BigEndian.AppendUint64(b, uint64(pid))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		first := int64(-1)
		if e.txnOpen {
			first = e.txnFirst
		}
		b = binary.BigEndian.AppendUint64(b, uint64(first))
		b = append(b, byte(e.n))
		for i := 0; i < e.n; i++ {
			m := &e.batches[i]
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.maxTimestamp))
			var flags byte
			if m.transactional {
				flags |= 1
			}
			b = append(b, flags)
		}
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b
}

var errBadSnapshot = errors.New("log: bad producer snapshot")

func decodeProducerSnapshot(b []byte) (*producerState, error) {
	if len(b) < 10 {
		return nil, errBadSnapshot
	}
	version := binary.BigEndian.Uint16(b)
	entrySize := snapshotEntrySize
	switch version {
	case 1:
		entrySize -= 8
	case snapshotVersion:
	default:
		return nil, errBadSnapshot
	}
	if crc32.Checksum(b[6:], castagnoli) != binary.BigEndian.Uint32(b[2:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadSnapshot)
	}
	count := int(binary.BigEndian.Uint32(b[6:]))
	b = b[10:]
	if count < 0 || count > len(b)/entrySize {
		return nil, fmt.Errorf("%w: count %d", errBadSnapshot, count)
	}
	s := newProducerState()
	for range count {
		if len(b) < entrySize {
			return nil, fmt.Errorf("%w: short entry", errBadSnapshot)
		}
		pid := int64(binary.BigEndian.Uint64(b))
		e := &producerEntry{epoch: int16(binary.BigEndian.Uint16(b[8:]))}
		if version >= 2 {
			if first := int64(binary.BigEndian.Uint64(b[10:])); first >= 0 {
				e.txnOpen, e.txnFirst = true, first
			}
		}
		n := int(b[entrySize-1])
		b = b[entrySize:]
		if n > maxCachedBatches || len(b) < n*snapshotBatchSize {
			return nil, fmt.Errorf("%w: bad batch count %d", errBadSnapshot, n)
		}
		for i := range n {
			e.add(batchMeta{
				firstSeq:      int32(binary.BigEndian.Uint32(b[0:])),
				lastSeq:       int32(binary.BigEndian.Uint32(b[4:])),
				firstOffset:   int64(binary.BigEndian.Uint64(b[8:])),
				lastOffset:    int64(binary.BigEndian.Uint64(b[16:])),
				maxTimestamp:  int64(binary.BigEndian.Uint64(b[24:])),
				transactional: b[32]&1 != 0,
			})
			_ = i
			b = b[snapshotBatchSize:]
		}
		s.m[pid] = e
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadSnapshot, len(b))
	}
	return s, nil
}

// snapshotsToKeep is how many producer snapshots we keep.
const snapshotsToKeep = 2

// writeProducerSnapshot persists the producer state as of offset (the log
// end) and removes older snapshots beyond the newest few.
// REQUIRES: p.mu held; everything below offset fsynced.
func (p *Partition) writeProducerSnapshot(offset int64) error {
	// The aborted transactions below offset first: a snapshot never
	// covers markers the aborted-transactions file lacks.
	if err := p.writeAborted(offset); err != nil {
		return err
	}
	name := filepath.Base(fileName(p.dir, offset, snapshotSuffix))
	if err := writeFileAtomic(p.fs, p.dir, name, p.producers.encode()); err != nil {
		return err
	}
	names, err := p.fs.ReadDir(p.dir)
	if err != nil {
		return storageErr("read dir", p.dir, err)
	}
	var offs []int64
	for _, n := range names {
		if off, ok := parseFileName(n, snapshotSuffix); ok && off < offset {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	for i := 0; i < len(offs)-(snapshotsToKeep-1); i++ {
		path := fileName(p.dir, offs[i], snapshotSuffix)
		if err := p.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return storageErr("remove", path, err)
		}
	}
	return nil
}

// loadProducerState loads the newest valid snapshot at or below the log end
// and replays the batch headers after it.
func (p *Partition) loadProducerState(snaps []int64, end logPos) error {
	slices.Sort(snaps)
	slices.Reverse(snaps)
	logStart := p.segs[0].base
	from := logStart
	loaded := false
	for _, off := range snaps {
		path := fileName(p.dir, off, snapshotSuffix)
		if off > end.offset || (!loaded && off < logStart) {
			// From a longer log than recovery kept: wrong now.
			if err := p.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return storageErr("remove", path, err)
			}
			continue
		}
		if loaded {
			continue
		}
		b, err := readFile(p.fs, path)
		var st *producerState
		if err == nil {
			st, err = decodeProducerSnapshot(b)
		}
		if err != nil {
			p.logger.Warn("ignoring producer snapshot", "file", path, "err", err)
			continue
		}
		p.producers, from, loaded = st, off, true
	}
	aborted, err := p.loadAborted(from)
	if err != nil {
		return err
	}
	defer func() {
		// What readers see of the transactions, from the state rebuilt.
		p.txv = txnView{ongoing: map[int64]int64{}}
		for _, a := range aborted {
			p.txv.addAborted(a)
		}
		now := p.now().UnixMilli()
		for pid, e := range p.producers.m {
			if e.txnOpen {
				p.txv.ongoing[pid] = e.txnFirst
			}
			// Idle times are not persisted: a restart starts them over,
			// so a producer is kept at least as long as Kafka keeps it.
			e.lastAppend = now
		}
	}()
	if from >= end.offset {
		return nil
	}
	replayed := 0
	for i, s := range p.segs {
		if i+1 < len(p.segs) && p.segs[i+1].base <= from {
			continue
		}
		limit := s.size.Load()
		start := int64(0)
		if s.base < from {
			pos, err := s.find(from, limit)
			if err != nil {
				return err
			}
			if pos < 0 {
				continue
			}
			start = pos
		}
		r := newBatchReader(s.log, start, limit)
		for {
			b, _, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("log: replaying producer state from %s: %w", s.name(), err)
			}
			h, err := records.ParseHeader(b)
			if err != nil {
				return fmt.Errorf("log: replaying producer state from %s: %w", s.name(), err)
			}
			if h.BaseOffset >= from && h.ProducerID >= 0 {
				a, ok, err := p.producers.replayTxn(&h, b)
				if err != nil {
					return fmt.Errorf("log: replaying producer state from %s: %w", s.name(), err)
				}
				if ok {
					aborted = append(aborted, a)
				}
				replayed++
			}
		}
	}
	p.logger.Debug("replayed producer state", "from_offset", from, "batches", replayed)
	return nil
}

// ExpireProducers forgets the producers of the partition that have not
// appended for longer than expiration and have no transaction open
// (producer.id.expiration.ms; the Manager calls it periodically). It
// returns how many it forgot; the next producer snapshot leaves them out.
func (p *Partition) ExpireProducers(expiration time.Duration) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.producers.expire(p.now().Add(-expiration).UnixMilli())
}
