package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	klog "github.com/chronik-stream/chronik/internal/log"
)

// Coordinator is the group coordinator of a single node: every group is
// ours. It owns the groups' state and the offsets log.
//
// Lock order: Coordinator.mu, then a group's mu, then the store's mu. Timers
// and the store's apply callbacks take only a group's mu.
type Coordinator struct {
	cfg    Config
	logger *slog.Logger
	clock  Clock
	st     *store

	mu     sync.RWMutex
	groups map[string]*group

	loaded   atomic.Bool
	loadErr  error // set before loadDone closes
	loadDone chan struct{}
	closed   atomic.Bool

	tickMu sync.Mutex
	tick   Timer
}

// Open returns a coordinator that opens and loads the offsets log in
// cfg.Dir in the background, as Kafka loads __consumer_offsets: until it
// is loaded, requests get COORDINATOR_LOAD_IN_PROGRESS, and if that fails,
// COORDINATOR_NOT_AVAILABLE (WaitLoaded waits for it and reports why).
func Open(cfg Config) (*Coordinator, error) {
	if cfg.Dir == "" {
		return nil, errors.New("group: no directory")
	}
	cfg = cfg.withDefaults()
	c := &Coordinator{
		cfg:      cfg,
		logger:   cfg.Logger,
		clock:    cfg.Clock,
		groups:   map[string]*group{},
		loadDone: make(chan struct{}),
	}
	go c.load()
	return c, nil
}

// WaitLoaded waits until the offsets log is loaded and returns the load's
// error, if any.
func (c *Coordinator) WaitLoaded(ctx context.Context) error {
	select {
	case <-c.loadDone:
		return c.loadErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// load replays the offsets log into memory, last record per key winning,
// and rewrites the log when it is mostly dead records.
func (c *Coordinator) load() {
	defer close(c.loadDone)
	start := time.Now()
	st, err := openStore(c.cfg.Dir, c.cfg.FS, c.logger, c.cfg.Log, c.clock.Now)
	if err != nil {
		c.loadErr = err
		c.logger.Error("could not open the offsets log; group requests will fail", "err", err)
		return
	}
	c.st = st
	now := c.clock.Now()
	groups, metas, n, err := c.replayState(st.p, math.MaxInt64, now)
	if err != nil {
		c.loadErr = fmt.Errorf("group: loading the offsets log: %w", err)
		c.logger.Error("could not load the offsets log; group requests will fail", "err", err)
		return
	}
	var live int64
	for id, g := range groups {
		live += int64(len(g.offsets))
		if metas[id] != nil {
			live++
		}
	}
	c.st.records = n
	if n > c.cfg.CompactMinRecords && n > c.cfg.CompactRatio*live {
		// Nothing is appended while loading: the live state of the whole
		// log is what we just built.
		liveOf := func(*klog.Partition, int64) ([]kv, error) { return liveRecords(groups, metas), nil }
		if _, err := c.st.compact(now, liveOf); err != nil {
			c.loadErr = fmt.Errorf("group: rewriting the offsets log: %w", err)
			c.logger.Error("could not rewrite the offsets log; group requests will fail", "err", err)
			return
		}
		c.logger.Info("rewrote the offsets log", "records_before", n, "records_after", live)
	}
	ngroups := len(groups)
	c.mu.Lock()
	c.groups = groups
	c.mu.Unlock()
	c.loaded.Store(true)
	c.armTick()
	c.logger.Info("offsets log loaded", "groups", ngroups, "records", n, "live", live, "elapsed", time.Since(start).Round(time.Millisecond))
}

// replayState replays the log up to upTo into fresh groups, last record per
// key winning. metas holds the last metadata record's value of the groups
// that have one (a rewrite keeps it as is); n is the number of records read.
func (c *Coordinator) replayState(p *klog.Partition, upTo int64, now time.Time) (groups map[string]*group, metas map[string][]byte, n int64, err error) {
	groups, metas = map[string]*group{}, map[string][]byte{}
	get := func(id string) *group {
		g := groups[id]
		if g == nil {
			g = newGroup(c, id, now)
			groups[id] = g
		}
		return g
	}
	n, err = replay(p, upTo, func(offset int64, key, value []byte) error {
		d, err := decodeRecord(key, value)
		if err != nil {
			if !errors.Is(err, errSkip) {
				c.logger.Warn("skipping an unreadable record of the offsets log", "offset", offset, "err", err)
			}
			return nil
		}
		switch {
		case d.isOffset && d.offset == nil:
			if g := groups[d.group]; g != nil {
				delete(g.offsets, tp{d.topic, d.partition})
			}
		case d.isOffset:
			get(d.group).offsets[tp{d.topic, d.partition}] = *d.offset
		case d.meta == nil:
			// A deleted group: its offsets were deleted with it.
			delete(groups, d.group)
			delete(metas, d.group)
		default:
			g := get(d.group)
			metas[d.group] = slices.Clone(value)
			g.protocolType, g.generation = d.meta.ProtocolType, d.meta.Generation
			// Members do not survive a restart: the group is Empty, since
			// the time the record says when it was written on becoming
			// Empty, since now otherwise.
			g.stateTime = now
			if d.meta.Protocol == nil && d.meta.CurrentStateTimestamp >= 0 {
				g.stateTime = time.UnixMilli(d.meta.CurrentStateTimestamp)
			}
		}
		return nil
	})
	return groups, metas, n, err
}

// maybeCompact rewrites the log while running when it holds more than
// CompactMinRecords records and CompactRatio times its live keys, so that
// neither the disk nor the next start-up grows with the number of commits.
func (c *Coordinator) maybeCompact() {
	if c.usable() != nil {
		return
	}
	var live int64
	c.mu.RLock()
	for _, g := range c.groups {
		g.mu.Lock()
		live += int64(len(g.offsets)) + 1
		g.mu.Unlock()
	}
	c.mu.RUnlock()
	c.st.mu.Lock()
	n := c.st.records
	c.st.mu.Unlock()
	if n <= c.cfg.CompactMinRecords || n <= c.cfg.CompactRatio*live {
		return
	}
	now := c.clock.Now()
	liveOf := func(p *klog.Partition, upTo int64) ([]kv, error) {
		groups, metas, _, err := c.replayState(p, upTo, now)
		if err != nil {
			return nil, err
		}
		return liveRecords(groups, metas), nil
	}
	start := time.Now()
	after, err := c.st.compact(now, liveOf)
	if err != nil {
		c.logger.Error("could not rewrite the offsets log", "err", err)
		return
	}
	c.logger.Info("rewrote the offsets log", "records_before", n, "records_after", after, "elapsed", time.Since(start).Round(time.Millisecond))
}

// liveRecords is the state of groups as records, for a rewrite.
func liveRecords(groups map[string]*group, metas map[string][]byte) []kv {
	ids := make([]string, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []kv
	for _, id := range ids {
		g := groups[id]
		if v := metas[id]; v != nil {
			out = append(out, kv{groupKey(id), v})
		}
		tps := make([]tp, 0, len(g.offsets))
		for t := range g.offsets {
			tps = append(tps, t)
		}
		sortTPs(tps)
		for _, t := range tps {
			out = append(out, kv{offsetKey(id, t.topic, t.partition), offsetValue(g.offsets[t])})
		}
	}
	return out
}

func sortTPs(tps []tp) {
	slices.SortFunc(tps, func(a, b tp) int {
		switch {
		case a.topic < b.topic:
			return -1
		case a.topic > b.topic:
			return 1
		}
		return int(a.partition) - int(b.partition)
	})
}

// Close answers every waiting JoinGroup and SyncGroup with NOT_COORDINATOR
// (as Kafka does when it unloads a group), stops the timers, and closes the
// offsets log after every appended write is durable and applied.
func (c *Coordinator) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	<-c.loadDone
	c.tickMu.Lock()
	if c.tick != nil {
		c.tick.Stop()
	}
	c.tickMu.Unlock()
	c.mu.Lock()
	groups := c.groups
	c.groups = map[string]*group{}
	c.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.unload()
		g.mu.Unlock()
	}
	if c.st == nil {
		return nil
	}
	return c.st.close()
}

// usable returns the error every request gets before the log is loaded or
// after Close.
func (c *Coordinator) usable() error {
	switch {
	case c.closed.Load():
		return kerr.CoordinatorNotAvailable
	case c.loaded.Load():
		return nil
	}
	select {
	case <-c.loadDone:
		return fmt.Errorf("%w: %w", kerr.CoordinatorNotAvailable, c.loadErr)
	default:
		return kerr.CoordinatorLoadInProgress
	}
}

// lockGroup returns group id locked, creating it (Empty) if create is set;
// nil if it does not exist. A group deleted while we waited for its lock is
// looked up again: deletion removes it from the map under c.mu.
func (c *Coordinator) lockGroup(id string, create bool) (*group, error) {
	for {
		c.mu.RLock()
		g := c.groups[id]
		c.mu.RUnlock()
		if g == nil {
			if !create {
				return nil, nil
			}
			c.mu.Lock()
			if c.closed.Load() {
				c.mu.Unlock()
				return nil, kerr.CoordinatorNotAvailable
			}
			if g = c.groups[id]; g == nil {
				g = newGroup(c, id, c.clock.Now())
				c.groups[id] = g
			}
			c.mu.Unlock()
		}
		g.mu.Lock()
		if g.state != Dead {
			return g, nil
		}
		g.mu.Unlock()
		if c.closed.Load() {
			return nil, kerr.CoordinatorNotAvailable
		}
	}
}

// armTick schedules the next offsets expiration pass (and rewrite check).
// A pass runs holding tickMu, so Close, which takes it, waits for one in
// flight.
func (c *Coordinator) armTick() {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	c.armTickLocked()
}

// REQUIRES: c.tickMu held.
func (c *Coordinator) armTickLocked() {
	if c.closed.Load() {
		return
	}
	c.tick = c.clock.AfterFunc(c.cfg.RetentionCheckInterval, func() {
		c.tickMu.Lock()
		defer c.tickMu.Unlock()
		if c.closed.Load() {
			return
		}
		c.ExpireOffsets()
		c.maybeCompact()
		c.armTickLocked()
	})
}

// ExpireOffsets removes the offsets that offsets.retention.minutes says
// are stale, and groups left Empty without offsets, writing tombstones
// (Kafka's cleanupGroupMetadata). It runs every RetentionCheckInterval;
// tests call it directly.
func (c *Coordinator) ExpireOffsets() {
	if c.usable() != nil {
		return
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var removedGroups, removedOffsets int
	for id, g := range c.groups {
		g.mu.Lock()
		expired := g.expiredOffsets(now)
		switch {
		case g.state == Empty && len(expired) == len(g.offsets) && len(g.pendingCommits) == 0:
			// The group goes with its last offsets (or had none).
			recs := tombstones(id, expired)
			recs = append(recs, kv{key: groupKey(id)})
			g.transition(Dead)
			delete(c.groups, id)
			if err := c.st.append(now, recs, nil); err != nil {
				c.logger.Warn("could not write the tombstones of an expired group", "group", id, "err", err)
			}
			removedGroups++
			removedOffsets += len(expired)
		case len(expired) > 0:
			err := c.st.append(now, tombstones(id, expired), func(err error) {
				if err != nil {
					return
				}
				g.mu.Lock()
				defer g.mu.Unlock()
				for _, t := range expired {
					delete(g.offsets, t)
				}
			})
			if err != nil {
				c.logger.Warn("could not write the tombstones of expired offsets", "group", id, "err", err)
			}
			removedOffsets += len(expired)
		}
		g.mu.Unlock()
	}
	if removedGroups+removedOffsets > 0 {
		c.logger.Info("expired offsets", "offsets", removedOffsets, "groups", removedGroups)
	}
}

func tombstones(group string, tps []tp) []kv {
	recs := make([]kv, 0, len(tps)+1)
	for _, t := range tps {
		recs = append(recs, kv{key: offsetKey(group, t.topic, t.partition)})
	}
	return recs
}

// expiredOffsets is Kafka's GroupMetadata.removeExpiredOffsets choice:
// an Empty group's offsets expire a retention period after it became
// Empty; a Stable consumer group's offsets of topics no member subscribes
// to, a retention period after their commit; a group without a protocol
// (only commits), a retention period after each commit. An explicit expiry
// (OffsetCommit v1-v4) wins. Offsets with a commit in flight stay.
func (g *group) expiredOffsets(now time.Time) []tp {
	retention := g.c.cfg.OffsetsRetention
	var base func(o Offset) time.Time
	var subscribed map[string]bool
	switch {
	case g.protocolType != "" && g.state == Empty:
		base = func(Offset) time.Time { return g.stateTime }
	case g.protocolType == consumerProtocolType && g.subscribed != nil && g.state == Stable:
		base = func(o Offset) time.Time { return o.CommitTime }
		subscribed = g.subscribed
	case g.protocolType == "":
		base = func(o Offset) time.Time { return o.CommitTime }
	default:
		return nil
	}
	var out []tp
	for t, o := range g.offsets {
		if subscribed[t.topic] || g.pendingCommits[t] > 0 {
			continue
		}
		if !o.ExpireTime.IsZero() {
			if !now.Before(o.ExpireTime) {
				out = append(out, t)
			}
		} else if now.Sub(base(o)) >= retention {
			out = append(out, t)
		}
	}
	sortTPs(out)
	return out
}

// DeleteTopicOffsets removes every group's offsets of the topics (Kafka's
// onPartitionsDeleted), for a deleted topic. It returns once the
// tombstones are appended, not when they are durable.
func (c *Coordinator) DeleteTopicOffsets(topics ...string) {
	if c.usable() != nil || len(topics) == 0 {
		return
	}
	doomed := map[string]bool{}
	for _, t := range topics {
		doomed[t] = true
	}
	now := c.clock.Now()
	c.mu.RLock()
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.RUnlock()
	for _, g := range groups {
		g.mu.Lock()
		var tps []tp
		for t := range g.offsets {
			if doomed[t.topic] {
				tps = append(tps, t)
			}
		}
		for t := range g.pendingCommits {
			if doomed[t.topic] && !slices.Contains(tps, t) {
				tps = append(tps, t)
			}
		}
		if len(tps) > 0 && g.state != Dead {
			sortTPs(tps)
			err := c.st.append(now, tombstones(g.id, tps), func(err error) {
				if err != nil {
					return
				}
				g.mu.Lock()
				defer g.mu.Unlock()
				for _, t := range tps {
					delete(g.offsets, t)
				}
			})
			if err != nil {
				c.logger.Warn("could not delete the offsets of deleted topics", "group", g.id, "err", err)
			}
		}
		g.mu.Unlock()
	}
}
