package log

import (
	"time"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// Group commit. Appenders write to the active segment under the append lock
// and return; one syncer goroutine per partition fsyncs whatever has been
// written, then advances the HW to the log end it captured before the fsync
// and wakes every waiter at once. Concurrent produces share one fsync, and
// there is no second copy of pending batches: the segment file is the log
// (invariant 3). acks=0 produces kick the syncer too, so their data becomes
// visible after the next fsync.

const (
	// warnSyncDuration: an fsync slower than this is logged (like etcd's).
	warnSyncDuration = time.Second
	// checkpointInterval: how often at most the syncer persists the
	// recovery point between rolls.
	checkpointInterval = 5 * time.Second
)

func (p *Partition) kickSyncer() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Partition) runSyncer() {
	defer close(p.syncerDone)
	var (
		ticker   *time.Ticker
		interval time.Duration
	)
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		iv := p.cfg.Load().FlushInterval
		if iv != interval {
			if ticker != nil {
				ticker.Stop()
				ticker = nil
			}
			if iv > 0 {
				ticker = time.NewTicker(iv)
			}
			interval = iv
		}
		var tick <-chan time.Time
		if ticker != nil {
			tick = ticker.C
		}
		select {
		case <-p.done:
			return
		case <-p.kick:
			// Read the config again: a kick may stand for both a
			// SetConfig and an append made after it.
			if p.cfg.Load().FlushInterval > 0 {
				continue // sync on the ticker only
			}
		case <-tick:
		}
		p.syncOnce()
	}
}

// syncOnce fsyncs the active segment and advances the synced point and, in
// the default mode, the HW to the log end captured before the fsync.
func (p *Partition) syncOnce() {
	p.vmu.RLock()
	target, synced, failed := p.leo, p.synced.offset, p.failErr
	p.vmu.RUnlock()
	if failed != nil {
		return
	}
	if target.offset <= synced {
		p.maybeCheckpoint()
		return
	}
	// Every byte below target was written before target was published, to
	// target.seg or to an older segment, which its roll fsynced.
	start := time.Now()
	if err := target.seg.log.Sync(); err != nil {
		p.fail(storageErr("fsync", target.seg.name(), err))
		return
	}
	d := time.Since(start)
	if d > warnSyncDuration {
		p.logger.Warn("slow fsync", "file", target.seg.name(), "duration", d)
	}
	p.vmu.Lock()
	if p.onSync != nil {
		bytes := target.pos
		if p.synced.seg == target.seg {
			bytes -= p.synced.pos
		}
		p.onSync(d, bytes)
	}
	if target.offset > p.synced.offset {
		p.synced = target
	}
	if p.cfg.Load().FlushInterval == 0 {
		p.advanceHWLocked(target) // invariants 1 and 2: visible only once durable
	}
	p.vmu.Unlock()
	p.dropBehind(target)
	p.maybeCheckpoint()
}

// dropBehind drops from the page cache the synced bytes of the active
// segment below synced.pos - Options.CacheTail, a MiB or more at a time.
//
// Why: a page the log has never used before is the dearest part of an
// append. Writing to the page cache takes a fresh page per 4 KiB, which the
// kernel must find, charge and (in a VM whose free memory goes back to the
// host) fault in: on the benchmark machine 2.8 ms of CPU per MiB written
// against 0.2 ms to overwrite a cached page (docs/benchmarks.md). Dropped
// pages go back to the free lists and the next appends reuse them while
// they are still hot, so the log does not grow the page cache at the rate
// it is written. Consumers within CacheTail of the end (tailing consumers)
// still read from memory; those further behind read from the disk, through
// the page cache, as they would once the kernel had evicted the pages. Only
// synced pages are dropped: DONTNEED leaves dirty pages alone anyway, and
// the data stays readable.
//
// It is off by default (CacheTail 0): the gain is the page cache's growth,
// so it is gone once the cache has filled memory and the kernel reclaims
// old pages for new ones (measured equal then), while consumers catching
// up from further back than CacheTail pay a disk read either way.
func (p *Partition) dropBehind(synced logPos) {
	tail := p.cacheTail
	if tail <= 0 {
		return
	}
	if p.dropped.seg != synced.seg { // rolled: the old segment's tail stays until evicted
		p.dropped.seg, p.dropped.pos = synced.seg, 0
	}
	upto := synced.pos - tail
	if upto-p.dropped.pos < 1<<20 {
		return
	}
	vfs.DropCache(synced.seg.log, p.dropped.pos, upto-p.dropped.pos)
	p.dropped.pos = upto
}

// maybeCheckpoint persists the synced point as the recovery point if the
// last one is older than checkpointInterval.
func (p *Partition) maybeCheckpoint() {
	p.cpMu.Lock()
	due := time.Since(p.lastCPTime) >= checkpointInterval
	p.cpMu.Unlock()
	if !due {
		return
	}
	p.vmu.RLock()
	synced := p.synced
	p.vmu.RUnlock()
	if err := p.checkpoint(synced, false); err != nil {
		p.fail(err)
	}
}

// checkpoint writes at as the recovery point, unless a later one was
// written. Index entries below at.pos were written before at was published;
// unless indexSynced, we fsync the indexes first so the next Open can trust
// them up to at.pos.
func (p *Partition) checkpoint(at logPos, indexSynced bool) error {
	p.cpMu.Lock()
	defer p.cpMu.Unlock()
	p.lastCPTime = time.Now()
	if at.seg == nil || (p.lastCheckpoint.seg != nil && at.offset <= p.lastCheckpoint.offset) {
		return nil // the same data is covered already
	}
	if !indexSynced {
		if err := at.seg.offsets.sync(); err != nil {
			return err
		}
		if err := at.seg.times.sync(); err != nil {
			return err
		}
	}
	rp := recoveryPoint{
		segBase:  at.seg.base,
		pos:      at.pos,
		offset:   at.offset,
		maxTs:    at.maxTs,
		maxTsOff: at.maxTsOff,
	}
	if err := writeFileAtomic(p.fs, p.dir, recoveryFile, rp.encode()); err != nil {
		return err
	}
	p.lastCheckpoint = at
	return nil
}
