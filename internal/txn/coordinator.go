package txn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// State is a transaction's state, numbered as in Kafka's
// __transaction_state records.
type State int8

const (
	Empty State = iota
	Ongoing
	PrepareCommit
	PrepareAbort
	CompleteCommit
	CompleteAbort
	Dead
	PrepareEpochFence
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// String is Kafka's name of the state, as ListTransactions and
// DescribeTransactions report it.
func (s State) String() string {
	if int(s) < len(stateNames) && s >= 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// ParseState is the inverse of String.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// TP is a topic partition.
type TP struct {
	Topic     string `json:"t"`
	Partition int32  `json:"p"`
}

// Offset is an offset committed inside a transaction.
type Offset struct {
	Offset      int64  `json:"o"`
	LeaderEpoch int32  `json:"e"`
	Metadata    string `json:"m,omitempty"`
	CommitTime  int64  `json:"ts"` // unix ms
}

// Config configures a Coordinator.
type Config struct {
	// Dir holds the state log. Required.
	Dir    string
	FS     vfs.FS
	Logger *slog.Logger
	Now    func() time.Time

	// NextProducerID hands out a new producer id (shared with idempotent
	// producers). Required.
	NextProducerID func() (int64, error)
	// Partition returns the log of a partition, nil if it does not exist.
	// Required.
	Partition func(topic string, partition int32) *klog.Partition
	// CommitOffsets makes the offsets of a committed transaction the
	// group's committed offsets and returns once they are durable. Required.
	CommitOffsets func(group string, offsets map[TP]Offset) error

	// MaxTimeout is transaction.max.timeout.ms (15 min).
	MaxTimeout time.Duration
	// AbortInterval is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms (10 s):
	// how often timed-out transactions are looked for.
	AbortInterval time.Duration
	// IDExpiration is transactional.id.expiration.ms (7 days): an idle id
	// without an open transaction is forgotten after it.
	IDExpiration time.Duration
}

func (c Config) withDefaults() Config {
	if c.FS == nil {
		c.FS = vfs.OS
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = 15 * time.Minute
	}
	if c.AbortInterval <= 0 {
		c.AbortInterval = 10 * time.Second
	}
	if c.IDExpiration <= 0 {
		c.IDExpiration = 7 * 24 * time.Hour
	}
	return c
}

// stateTopic names the state log, as Kafka's internal topic.
const stateTopic = "__transaction_state"

// txn is one transactional id's state. Fields are guarded by mu; id is
// fixed.
type txn struct {
	id string
	mu sync.RWMutex
	// gone is set when the id expired and was removed from the table: a
	// caller that found it before must look it up again.
	gone bool
	stored
	// durable is stored as last persisted (or as created): a change whose
	// write fails is undone, so memory never runs ahead of the state log.
	durable stored
}

// clone copies s deeply enough that later changes to the copy's slices and
// maps do not show in s (inner offset maps are replaced, never changed).
func (s stored) clone() stored {
	s.Partitions = slices.Clone(s.Partitions)
	s.Groups = slices.Clone(s.Groups)
	if s.Offsets != nil {
		m := make(map[string]map[string]Offset, len(s.Offsets))
		for g, o := range s.Offsets {
			m[g] = o
		}
		s.Offsets = m
	}
	return s
}

// stored is what the state log keeps of a transactional id (JSON, version
// 1). It is written whole on every change.
type stored struct {
	V         int   `json:"v"`
	PID       int64 `json:"pid"`
	Epoch     int16 `json:"epoch"`
	LastEpoch int16 `json:"last_epoch"` // before the newest bump, -1 if none (KIP-360)
	// PrevPID and PrevEpoch are the producer id and epoch before an epoch
	// overflow moved the id to a new producer id (transaction version 2).
	PrevPID    int64                        `json:"prev_pid"`
	PrevEpoch  int16                        `json:"prev_epoch"`
	TimeoutMs  int32                        `json:"timeout_ms"`
	State      State                        `json:"state"`
	Partitions []TP                         `json:"partitions,omitempty"`
	Groups     []string                     `json:"groups,omitempty"`
	Offsets    map[string]map[string]Offset `json:"offsets,omitempty"` // group -> "topic\x00partition" -> offset
	StartMs    int64                        `json:"start_ms"`          // transaction start, -1 if none
	UpdateMs   int64                        `json:"update_ms"`
}

// Coordinator is the transaction coordinator. See the package doc.
type Coordinator struct {
	cfg    Config
	logger *slog.Logger
	logs   *klog.Manager
	state  *klog.Partition

	mu    sync.Mutex
	txns  map[string]*txn
	byPID map[int64]*txn

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// Open opens (or creates) the state log in cfg.Dir, replays it, finishes
// transactions a crash left half-ended and starts the timeout checker.
func Open(cfg Config) (*Coordinator, error) {
	if cfg.Dir == "" || cfg.NextProducerID == nil || cfg.Partition == nil || cfg.CommitOffsets == nil {
		return nil, errors.New("txn: incomplete config")
	}
	cfg = cfg.withDefaults()
	logCfg := klog.DefaultConfig()
	logCfg.Delete, logCfg.Compact = false, true
	logCfg.SegmentBytes = 16 << 20
	logs, err := klog.OpenManager(cfg.Dir, func(topic string) (klog.Config, bool) {
		return logCfg, topic == stateTopic
	}, klog.Options{FS: cfg.FS, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("txn: opening the state log: %w", err)
	}
	p, err := logs.Create(stateTopic, 0, logCfg)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("txn: opening the state log: %w", err)
	}
	c := &Coordinator{
		cfg:    cfg,
		logger: cfg.Logger,
		logs:   logs,
		state:  p,
		txns:   map[string]*txn{},
		byPID:  map[int64]*txn{},
		done:   make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	n, err := c.replay()
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("txn: replaying the state log: %w", err)
	}
	c.logger.Info("transaction state loaded", "records", n, "transactional_ids", len(c.txns))
	// Finish what a crash interrupted before anyone can see it.
	for _, t := range c.txns {
		t.mu.Lock()
		switch t.State {
		case PrepareCommit, PrepareAbort:
			if err := c.complete(t); err != nil {
				c.logger.Warn("could not finish a transaction at start-up; will retry", "transactional_id", t.id, "err", err)
			}
		case PrepareEpochFence:
			t.State = PrepareAbort
			if err := c.persist(t); err == nil {
				c.complete(t)
			}
		}
		t.mu.Unlock()
	}
	go c.run()
	return c, nil
}

// Close stops the coordinator and closes the state log. Transactions stay
// as they are; they are finished or timed out after the next Open.
func (c *Coordinator) Close() error {
	c.cancel()
	<-c.done
	return c.logs.Close()
}

func (c *Coordinator) replay() (int64, error) {
	start, hw, _ := c.state.Offsets()
	var n int64
	for off := start; off < hw; {
		res, err := c.state.Read(off, 1<<20, true)
		if err != nil {
			return n, err
		}
		if len(res.Records) == 0 {
			return n, fmt.Errorf("no batch at offset %d below the high watermark %d", off, hw)
		}
		err = records.Split(res.Records, func(h records.Header, b []byte) error {
			if h.LastOffset() < off {
				return nil
			}
			off = h.LastOffset() + 1
			if h.IsControl() {
				return nil
			}
			_, err := records.Iterate(b, 0, func(r *records.Record) error {
				n++
				return c.apply(r.Key, r.Value)
			})
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// apply loads one state record.
func (c *Coordinator) apply(key, value []byte) error {
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("%w: state record key: %v", records.ErrCorrupt, err)
	}
	if old := c.txns[k.TransactionalID]; old != nil {
		delete(c.byPID, old.PID)
		delete(c.txns, k.TransactionalID)
	}
	if value == nil {
		return nil // expired
	}
	t := &txn{id: k.TransactionalID}
	if err := json.Unmarshal(value, &t.stored); err != nil {
		return fmt.Errorf("%w: state of %q: %v", records.ErrCorrupt, k.TransactionalID, err)
	}
	t.durable = t.stored.clone()
	c.txns[t.id] = t
	c.byPID[t.PID] = t
	return nil
}

// persist appends t's state to the state log and waits until it is
// durable. REQUIRES: t.mu held for writing.
// A failed write undoes every change since the last successful one.
func (c *Coordinator) persist(t *txn) error {
	t.V = 1
	t.UpdateMs = c.cfg.Now().UnixMilli()
	value, err := json.Marshal(&t.stored)
	if err == nil {
		err = c.write(t.id, value)
	}
	if err != nil {
		pid := t.PID
		t.stored = t.durable.clone()
		if t.PID != pid {
			// An overflow moved the id: move it back in the index.
			c.mu.Lock()
			if c.byPID[pid] == t {
				delete(c.byPID, pid)
			}
			c.byPID[t.PID] = t
			c.mu.Unlock()
		}
		return err
	}
	t.durable = t.stored.clone()
	return nil
}

func (c *Coordinator) write(id string, value []byte) error {
	key := (&kmsg.TxnMetadataKey{Version: 0, TransactionalID: id}).AppendTo(nil)
	batch, err := records.Build(records.BuildOptions{
		BaseTimestamp: c.cfg.Now().UnixMilli(),
		ProducerID:    records.NoProducerID,
		ProducerEpoch: -1,
		BaseSequence:  records.NoSequence,
	}, []records.Record{{Key: key, Value: value}})
	if err != nil {
		return err
	}
	res, err := c.state.Append(batch)
	if err != nil {
		return err
	}
	return c.state.WaitDurable(c.ctx, res.LastOffset)
}

// lookup returns the transaction of id, nil if unknown.
func (c *Coordinator) lookup(id string) *txn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.txns[id]
}

// lock returns id's transaction locked for writing, nil if unknown.
func (c *Coordinator) lock(id string) *txn {
	for {
		t := c.lookup(id)
		if t == nil {
			return nil
		}
		t.mu.Lock()
		if !t.gone {
			return t
		}
		t.mu.Unlock()
	}
}

// setPID changes t's producer id in the by-pid index.
func (c *Coordinator) setPID(t *txn, pid int64) {
	c.mu.Lock()
	if c.byPID[t.PID] == t {
		delete(c.byPID, t.PID)
	}
	t.PID = pid
	c.byPID[pid] = t
	c.mu.Unlock()
}

func tpKey(topic string, partition int32) string {
	return fmt.Sprintf("%s\x00%d", topic, partition)
}

func parseTPKey(k string) (TP, bool) {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == 0 {
			var p int32
			if _, err := fmt.Sscan(k[i+1:], &p); err != nil {
				return TP{}, false
			}
			return TP{k[:i], p}, true
		}
	}
	return TP{}, false
}

// complete writes the markers of t's decided transaction, commits its
// offsets if it commits, and records it complete.
// REQUIRES: t.mu held for writing; t.State PrepareCommit or PrepareAbort.
func (c *Coordinator) complete(t *txn) error {
	commit := t.State == PrepareCommit
	type written struct {
		p   *klog.Partition
		off int64
	}
	var ws []written
	for _, tp := range t.Partitions {
		p := c.cfg.Partition(tp.Topic, tp.Partition)
		if p == nil {
			continue // deleted since: nothing to end
		}
		off, err := p.AppendMarker(t.PID, t.Epoch, commit, 0)
		if err != nil {
			return fmt.Errorf("writing the marker to %s-%d: %w", tp.Topic, tp.Partition, err)
		}
		ws = append(ws, written{p, off})
	}
	for _, w := range ws {
		if err := w.p.WaitDurable(c.ctx, w.off); err != nil {
			return fmt.Errorf("syncing the marker of %s-%d: %w", w.p.Topic(), w.p.Partition(), err)
		}
	}
	if commit {
		groups := make([]string, 0, len(t.Offsets))
		for g := range t.Offsets {
			groups = append(groups, g)
		}
		slices.Sort(groups)
		for _, g := range groups {
			offs := make(map[TP]Offset, len(t.Offsets[g]))
			for k, o := range t.Offsets[g] {
				if tp, ok := parseTPKey(k); ok {
					offs[tp] = o
				}
			}
			if err := c.cfg.CommitOffsets(g, offs); err != nil {
				return fmt.Errorf("committing the offsets of group %q: %w", g, err)
			}
		}
		t.State = CompleteCommit
	} else {
		t.State = CompleteAbort
	}
	t.Partitions, t.Groups, t.Offsets = nil, nil, nil
	t.StartMs = -1
	return c.persist(t)
}

// run aborts timed-out transactions, retries unfinished ends and forgets
// expired ids every AbortInterval.
func (c *Coordinator) run() {
	defer close(c.done)
	tick := time.NewTicker(c.cfg.AbortInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
			c.sweep()
		}
	}
}

func (c *Coordinator) sweep() {
	c.mu.Lock()
	ts := make([]*txn, 0, len(c.txns))
	for _, t := range c.txns {
		ts = append(ts, t)
	}
	c.mu.Unlock()
	now := c.cfg.Now().UnixMilli()
	for _, t := range ts {
		if c.ctx.Err() != nil {
			return
		}
		t.mu.Lock()
		if t.gone {
			t.mu.Unlock()
			continue
		}
		switch t.State {
		case Ongoing:
			if t.StartMs >= 0 && now-t.StartMs > int64(t.TimeoutMs) {
				c.logger.Info("aborting a timed-out transaction", "transactional_id", t.id, "producer_id", t.PID, "epoch", t.Epoch, "timeout_ms", t.TimeoutMs)
				// As Kafka does, the abort bumps the epoch: the producer
				// is fenced and must re-initialize (or use KIP-360).
				if t.Epoch < math.MaxInt16-1 {
					t.LastEpoch, t.Epoch = t.Epoch, t.Epoch+1
				}
				t.State = PrepareAbort
				if err := c.persist(t); err != nil {
					c.logger.Error("could not abort a timed-out transaction", "transactional_id", t.id, "err", err)
				} else if err := c.complete(t); err != nil {
					c.logger.Error("could not abort a timed-out transaction", "transactional_id", t.id, "err", err)
				}
			}
		case PrepareCommit, PrepareAbort:
			if err := c.complete(t); err != nil {
				c.logger.Warn("could not finish a transaction; will retry", "transactional_id", t.id, "err", err)
			}
		case Empty, CompleteCommit, CompleteAbort:
			if now-t.UpdateMs > c.cfg.IDExpiration.Milliseconds() {
				if err := c.write(t.id, nil); err == nil {
					c.mu.Lock()
					delete(c.txns, t.id)
					if c.byPID[t.PID] == t {
						delete(c.byPID, t.PID)
					}
					c.mu.Unlock()
					t.gone = true
					c.logger.Info("transactional id expired", "transactional_id", t.id)
				}
			}
		}
		t.mu.Unlock()
	}
}

// storageErr maps an error of the state log or a partition to a protocol
// error.
func storageErr(err error) error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return kerr.CoordinatorNotAvailable
	}
	return kerr.KafkaStorageError
}
