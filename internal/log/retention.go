package log

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Retention (Kafka's UnifiedLog.deleteOldSegments, run by LogManager every
// log.retention.check.interval.ms). With cleanup.policy "delete", whole
// closed segments are deleted from the start of the log:
//
//   - by time: while the oldest one's largest timestamp is more than
//     retention.ms old (a segment without timestamps is kept: Kafka would
//     use the file's modification time, which our FS seam does not have);
//   - by size: while the partition would still hold retention.bytes
//     without the oldest one.
//
// With any policy, segments wholly below the log start offset (moved by
// DeleteRecordsBefore) are deleted too. The active segment is never
// deleted (segment.ms rolls it), nor a segment the high watermark, the
// synced point or the log end points into. The log start moves to the base
// of the first segment kept, and is persisted before the files go.
//
// Deletion is asynchronous, as Kafka's: the files are renamed to
// "<name>.deleted" at once (Open removes leftovers) and removed
// file.delete.delay.ms later. A read that picked the segment before it
// left the log holds a reference (segLife), so its file handles are closed
// only after the delay and once no read uses them.

// deletedSuffix marks the files of a segment that left the log. Part of the
// on-disk format (Kafka's LogFileUtils.DELETED_FILE_SUFFIX).
const deletedSuffix = ".deleted"

// segLife counts the reads of a segment in flight, so that a segment that
// left the log (retention, DeleteRecordsBefore, a cleaner swap) is closed
// only when none use it.
type segLife struct {
	refs      atomic.Int64 // reads in flight; -1 once closed for good
	retired   atomic.Bool  // left the log and its delete delay passed
	destroyed atomic.Bool
	owner     *Partition // set before retired
}

// acquire takes a reference for a read; false means the segment left the
// log and was closed: take a fresh view of the log and retry.
func (s *segment) acquire() bool {
	for {
		n := s.life.refs.Load()
		if n < 0 {
			return false
		}
		if s.life.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one of a retired segment closes it.
func (s *segment) release() {
	if s.life.refs.Add(-1) == 0 && s.life.retired.Load() && s.life.refs.CompareAndSwap(0, -1) {
		go s.life.owner.destroy(s)
	}
}

// scheduleDestroy closes and removes the files of segs, which left the
// log, after file.delete.delay.ms and once no read uses them.
func (p *Partition) scheduleDestroy(segs []*segment) {
	delay := time.Duration(p.cfg.Load().FileDeleteDelayMs) * time.Millisecond
	p.maint.pmu.Lock()
	defer p.maint.pmu.Unlock()
	if p.maint.pending == nil {
		p.maint.pending = map[*segment]*time.Timer{}
	}
	for _, s := range segs {
		s.life.owner = p
		p.maint.pending[s] = time.AfterFunc(delay, func() { p.retire(s) })
	}
}

// retire runs when a removed segment's delete delay has passed.
func (p *Partition) retire(s *segment) {
	s.life.retired.Store(true)
	if s.life.refs.CompareAndSwap(0, -1) {
		p.destroy(s)
	}
	// Otherwise the last release destroys it.
}

// destroy closes s and removes its ".deleted" files.
func (p *Partition) destroy(s *segment) {
	if !s.life.destroyed.CompareAndSwap(false, true) {
		return
	}
	p.maint.pmu.Lock()
	delete(p.maint.pending, s)
	p.maint.pmu.Unlock()
	if err := s.close(); err != nil && !errors.Is(err, fs.ErrClosed) {
		p.logger.Warn("closing a deleted segment", "file", s.name(), "err", err)
	}
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		// A later cleaning may have renamed a newer segment of the same
		// base over this name: removing it then only unlinks a file whose
		// handle stays valid, and that segment's own removal finds nothing.
		path := fileName(p.dir, s.base, suf) + deletedSuffix
		if err := p.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.logger.Warn("removing a deleted segment file", "file", path, "err", err)
		}
	}
}

// destroyPending destroys every segment still waiting for its delete delay
// (Close: no read can use them after it).
func (p *Partition) destroyPending() {
	p.maint.pmu.Lock()
	segs := make([]*segment, 0, len(p.maint.pending))
	for s, t := range p.maint.pending {
		t.Stop()
		segs = append(segs, s)
	}
	p.maint.pmu.Unlock()
	for _, s := range segs {
		s.life.refs.Store(-1)
		p.destroy(s)
	}
}

// applyRetention deletes the closed segments past the retention limits and
// below the log start offset, and returns how many.
func (p *Partition) applyRetention() (int, error) {
	p.maint.mu.Lock()
	defer p.maint.mu.Unlock()
	if p.usable() != nil {
		return 0, nil
	}
	return p.deleteSegments(true)
}

// deleteSegments deletes the segments wholly below the log start and, if
// retention is set and cleanup.policy has "delete", those past
// retention.ms or retention.bytes.
// REQUIRES: p.maint.mu held.
func (p *Partition) deleteSegments(retention bool) (int, error) {
	cfg := p.cfg.Load()
	now := p.now().UnixMilli()
	p.vmu.RLock()
	segs, limit, ls := p.segs, p.stablePrefixLocked(), p.maint.logStart
	p.vmu.RUnlock()

	k := 0
	for k < limit && segs[k+1].base <= ls {
		k++
	}
	below, byTime := k, 0
	if retention && cfg.Delete {
		if cfg.RetentionMs >= 0 {
			for k < limit {
				ts, _, err := segs[k].maxTimestamp()
				if err != nil {
					return 0, err
				}
				if ts < 0 || now-ts <= cfg.RetentionMs {
					break
				}
				k++
			}
		}
		byTime = k - below
		if cfg.RetentionBytes >= 0 {
			var size int64
			for _, s := range segs[k:] {
				size += s.size.Load()
			}
			for k < limit && size-segs[k].size.Load() >= cfg.RetentionBytes {
				size -= segs[k].size.Load()
				k++
			}
		}
	}
	if k == 0 {
		return 0, nil
	}
	newStart := max(ls, segs[k].base)
	if err := p.removePrefix(segs[:k], newStart); err != nil {
		return 0, err
	}
	p.logger.Info("deleted old segments", "segments", k, "below_log_start", below,
		"by_retention_ms", byTime, "by_retention_bytes", k-below-byTime, "log_start_offset", newStart)
	return k, nil
}

// background is the Manager's retention and cleaner goroutines.
type background struct {
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// startBackground starts retention, producer id expiry and, unless
// disabled, the cleaner.
func (m *Manager) startBackground() {
	m.bg.stop = make(chan struct{})
	m.bg.wg.Add(1)
	go m.every(m.opts.RetentionCheckInterval, m.applyRetention)
	if m.opts.ProducerIDExpiration > 0 {
		m.bg.wg.Add(1)
		go m.every(m.opts.ProducerIDExpirationCheck, m.expireProducers)
	}
	if !m.opts.DisableCleaner {
		m.bg.wg.Add(1)
		go m.runCleaner()
	}
}

// stopBackground stops them and waits: a cleaning in progress is abandoned
// at its next check.
func (m *Manager) stopBackground() {
	m.bg.once.Do(func() {
		if m.bg.stop != nil {
			close(m.bg.stop)
		}
	})
	m.bg.wg.Wait()
}

// every runs fn every interval until the background work stops.
func (m *Manager) every(interval time.Duration, fn func()) {
	defer m.bg.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.bg.stop:
			return
		case <-t.C:
		}
		fn()
	}
}

// expireProducers forgets idle producers (producer.id.expiration.ms) of
// every partition, so the producer state of a long-lived broker does not
// grow with every producer that ever wrote to it.
func (m *Manager) expireProducers() {
	n := 0
	for _, p := range m.All() {
		n += p.ExpireProducers(m.opts.ProducerIDExpiration)
	}
	if n > 0 {
		m.opts.Logger.Info("expired idle producer ids", "producer_states", n)
	}
}

// applyRetention runs retention on every partition once.
func (m *Manager) applyRetention() {
	for _, p := range m.All() {
		if _, err := p.applyRetention(); err != nil && !errors.Is(err, ErrClosed) {
			p.logger.Error("retention failed", "err", err)
		}
	}
}
