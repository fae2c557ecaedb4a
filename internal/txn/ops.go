package txn

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ProducerIDAndEpoch is a producer id with its epoch.
type ProducerIDAndEpoch struct {
	ID    int64
	Epoch int16
}

// InitProducerID handles InitProducerId for a transactional id. current is
// the producer's id and epoch when it sends them (v3+, KIP-360), else
// {-1, -1}. An ongoing transaction of the id is aborted first, with a
// bumped epoch, which fences the producer that owned it.
func (c *Coordinator) InitProducerID(id string, timeout time.Duration, current ProducerIDAndEpoch) (ProducerIDAndEpoch, error) {
	none := ProducerIDAndEpoch{-1, -1}
	if timeout <= 0 || timeout > c.cfg.MaxTimeout || timeout.Milliseconds() > math.MaxInt32 {
		return none, kerr.InvalidTransactionTimeout
	}
	t, err := c.lockOrCreate(id, timeout)
	if err != nil {
		return none, err
	}
	if t == nil {
		return none, kerr.CoordinatorNotAvailable
	}
	defer t.mu.Unlock()
	if current.ID >= 0 {
		// KIP-360: a producer recovering from an error presents its id
		// and epoch; it may continue only if it still owns the id.
		if current.ID != t.PID || (current.Epoch != t.Epoch && current.Epoch != t.LastEpoch) {
			return none, kerr.ProducerFenced
		}
		if current.Epoch == t.LastEpoch && current.Epoch != t.Epoch && t.State == Empty {
			// A retry whose answer was lost: the bump happened.
			return ProducerIDAndEpoch{t.PID, t.Epoch}, nil
		}
	}
	switch t.State {
	case PrepareCommit, PrepareAbort:
		if err := c.complete(t); err != nil {
			c.logger.Warn("could not finish a transaction", "transactional_id", id, "err", err)
			return none, kerr.ConcurrentTransactions
		}
	case Ongoing:
		// Fence the old producer: abort its transaction with a new epoch.
		c.bump(t)
		t.State = PrepareAbort
		if err := c.persist(t); err != nil {
			return none, storageErr(err)
		}
		if err := c.complete(t); err != nil {
			c.logger.Warn("could not abort the fenced producer's transaction", "transactional_id", id, "err", err)
			return none, kerr.ConcurrentTransactions
		}
	}
	if t.Epoch >= math.MaxInt16-1 {
		pid, err := c.cfg.NextProducerID()
		if err != nil {
			return none, storageErr(err)
		}
		c.setPID(t, pid)
		t.Epoch, t.LastEpoch = 0, -1
	} else if !t.fresh() {
		c.bump(t)
	}
	t.TimeoutMs = int32(timeout.Milliseconds())
	t.State = Empty
	t.Partitions, t.Groups, t.Offsets, t.StartMs = nil, nil, nil, -1
	if err := c.persist(t); err != nil {
		return none, storageErr(err)
	}
	return ProducerIDAndEpoch{t.PID, t.Epoch}, nil
}

// fresh reports whether t was created by this InitProducerId and is not
// yet persisted (its epoch 0 is handed out as is).
func (t *txn) fresh() bool { return t.UpdateMs == 0 }

func (c *Coordinator) bump(t *txn) {
	if t.Epoch < math.MaxInt16-1 {
		t.LastEpoch, t.Epoch = t.Epoch, t.Epoch+1
	}
}

// lockOrCreate returns id's transaction locked, creating it (not yet
// persisted, epoch 0) when unknown.
func (c *Coordinator) lockOrCreate(id string, timeout time.Duration) (*txn, error) {
	for {
		c.mu.Lock()
		t := c.txns[id]
		if t == nil {
			c.mu.Unlock()
			pid, err := c.cfg.NextProducerID()
			if err != nil {
				return nil, storageErr(err)
			}
			c.mu.Lock()
			if c.txns[id] != nil {
				c.mu.Unlock()
				continue // raced with another InitProducerId; the id is lost, that is fine
			}
			t = &txn{id: id}
			t.PID, t.Epoch, t.LastEpoch, t.StartMs = pid, 0, -1, -1
			t.PrevPID, t.PrevEpoch = -1, -1
			t.durable = t.stored.clone()
			t.TimeoutMs = int32(timeout.Milliseconds())
			c.txns[id] = t
			c.byPID[pid] = t
		}
		c.mu.Unlock()
		t.mu.Lock()
		if !t.gone {
			return t, nil
		}
		t.mu.Unlock()
	}
}

// check validates a client's producer id and epoch for id's transaction.
// REQUIRES: t.mu held.
func check(t *txn, pid int64, epoch int16) error {
	if t == nil || t.PID != pid {
		return kerr.InvalidProducerIDMapping
	}
	if t.Epoch != epoch {
		return kerr.ProducerFenced
	}
	return nil
}

// begin moves t into Ongoing if it is not already, as adding the first
// partition or group does. It returns the error for states that cannot.
// REQUIRES: t.mu held for writing.
func (c *Coordinator) begin(t *txn) error {
	switch t.State {
	case Ongoing:
		return nil
	case Empty, CompleteCommit, CompleteAbort:
		t.State = Ongoing
		t.Partitions, t.Groups, t.Offsets = nil, nil, nil
		t.StartMs = c.cfg.Now().UnixMilli()
		return nil
	case PrepareCommit, PrepareAbort:
		return kerr.ConcurrentTransactions
	default:
		return kerr.InvalidTxnState
	}
}

// AddPartitions adds partitions to id's transaction (AddPartitionsToTxn).
// The caller has checked that they exist.
func (c *Coordinator) AddPartitions(id string, pid int64, epoch int16, tps []TP) error {
	t := c.lock(id)
	if t == nil {
		return kerr.InvalidProducerIDMapping
	}
	defer t.mu.Unlock()
	if err := check(t, pid, epoch); err != nil {
		return err
	}
	if t.State == Ongoing && !slices.ContainsFunc(tps, func(tp TP) bool { return !slices.Contains(t.Partitions, tp) }) {
		return nil // nothing new: no write
	}
	prev := t.stored
	prev.Partitions = slices.Clone(t.Partitions)
	if err := c.begin(t); err != nil {
		return err
	}
	for _, tp := range tps {
		if !slices.Contains(t.Partitions, tp) {
			t.Partitions = append(t.Partitions, tp)
		}
	}
	if err := c.persist(t); err != nil {
		t.stored = prev
		return storageErr(err)
	}
	return nil
}

// Verify reports, per partition, whether it is in id's ongoing
// transaction for pid at epoch (AddPartitionsToTxn v4+ verify-only).
func (c *Coordinator) Verify(id string, pid int64, epoch int16, tps []TP) ([]error, error) {
	t := c.lookup(id)
	if t == nil {
		return nil, kerr.InvalidProducerIDMapping
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if err := check(t, pid, epoch); err != nil {
		return nil, err
	}
	errs := make([]error, len(tps))
	for i, tp := range tps {
		if t.State != Ongoing || !slices.Contains(t.Partitions, tp) {
			errs[i] = kerr.InvalidTxnState
		}
	}
	return errs, nil
}

// AddOffsets adds group to id's transaction (AddOffsetsToTxn), so that
// TxnOffsetCommit may commit its offsets in it.
func (c *Coordinator) AddOffsets(id string, pid int64, epoch int16, group string) error {
	t := c.lock(id)
	if t == nil {
		return kerr.InvalidProducerIDMapping
	}
	defer t.mu.Unlock()
	if err := check(t, pid, epoch); err != nil {
		return err
	}
	if t.State == Ongoing && slices.Contains(t.Groups, group) {
		return nil
	}
	prev := t.stored
	prev.Groups = slices.Clone(t.Groups)
	if err := c.begin(t); err != nil {
		return err
	}
	t.Groups = append(t.Groups, group)
	if err := c.persist(t); err != nil {
		t.stored = prev
		return storageErr(err)
	}
	return nil
}

// CommitOffsets records offsets committed in id's transaction
// (TxnOffsetCommit); they reach the group when the transaction commits.
// The producer must be the transaction's current one and the group must
// have been added by AddOffsets. errs answers each offset in order.
//
// With implicit (TxnOffsetCommit v5+, transaction version 2) a group not
// yet in the transaction is added to it, starting one if none is open.
func (c *Coordinator) CommitOffsets(id string, pid int64, epoch int16, group string, tps []TP, offs []Offset, implicit bool) error {
	t := c.lock(id)
	if t == nil {
		return kerr.InvalidProducerIDMapping
	}
	defer t.mu.Unlock()
	if t.PID != pid {
		return kerr.InvalidProducerIDMapping
	}
	if t.Epoch != epoch {
		return kerr.InvalidProducerEpoch
	}
	prevState := t.stored
	prevState.Groups = slices.Clone(t.Groups)
	if implicit && (t.State != Ongoing || !slices.Contains(t.Groups, group)) {
		if err := c.begin(t); err != nil {
			return err
		}
		t.Groups = append(t.Groups, group)
	}
	if t.State != Ongoing || !slices.Contains(t.Groups, group) {
		return kerr.InvalidTxnState
	}
	prev := t.Offsets
	next := make(map[string]map[string]Offset, len(prev)+1)
	for g, m := range prev {
		next[g] = m
	}
	gm := make(map[string]Offset, len(prev[group])+len(tps))
	for k, o := range prev[group] {
		gm[k] = o
	}
	for i, tp := range tps {
		gm[tpKey(tp.Topic, tp.Partition)] = offs[i]
	}
	next[group] = gm
	t.Offsets = next
	if err := c.persist(t); err != nil {
		t.stored = prevState
		t.Offsets = prev
		return storageErr(err)
	}
	return nil
}

// EndTxn commits or aborts id's transaction and returns once it is
// complete: markers durable on every partition, offsets committed.
//
// With v2 (EndTxn v5+, transaction version 2, KIP-890 part 2) the epoch is
// bumped as the transaction ends: the markers carry the new epoch, which
// fences any late batch of the ended transaction, and the new producer id
// and epoch are returned (a new id when the epoch would overflow). A retry
// with the previous epoch of an end that completed gets the same answer,
// and aborting with no transaction open succeeds, bumping the epoch.
func (c *Coordinator) EndTxn(id string, pid int64, epoch int16, commit, v2 bool) (ProducerIDAndEpoch, error) {
	none := ProducerIDAndEpoch{-1, -1}
	t := c.lock(id)
	if t == nil {
		return none, kerr.InvalidProducerIDMapping
	}
	defer t.mu.Unlock()
	if t.PID != pid && !(v2 && t.PrevPID == pid) {
		return none, kerr.InvalidProducerIDMapping
	}
	current := ProducerIDAndEpoch{t.PID, t.Epoch}
	if v2 && (t.PID != pid || epoch != t.Epoch) {
		// A retry of an end whose answer was lost: the bump happened.
		retry := (t.PID == pid && epoch == t.LastEpoch) || (t.PID != pid && epoch == t.PrevEpoch)
		switch {
		case retry && ((commit && t.State == CompleteCommit) || (!commit && t.State == CompleteAbort)):
			return current, nil
		case retry && (t.State == CompleteCommit || t.State == CompleteAbort):
			return none, kerr.InvalidTxnState // as Kafka: the other outcome of that end
		}
		return none, kerr.ProducerFenced
	}
	if t.Epoch != epoch {
		return none, kerr.ProducerFenced
	}
	switch t.State {
	case Ongoing:
		if v2 {
			c.bump(t)
		}
		if commit {
			t.State = PrepareCommit
		} else {
			t.State = PrepareAbort
		}
		if err := c.persist(t); err != nil {
			return none, storageErr(err)
		}
	case Empty, CompleteCommit, CompleteAbort:
		switch {
		case v2 && !commit:
			// An abort with nothing open: bump the epoch, nothing to mark.
			c.bump(t)
			t.State = CompleteAbort
			if err := c.persist(t); err != nil {
				return none, storageErr(err)
			}
			return c.overflow(t)
		case !v2 && t.State == CompleteCommit && commit, !v2 && t.State == CompleteAbort && !commit:
			return current, nil // a retry
		}
		return none, kerr.InvalidTxnState
	case PrepareCommit:
		if !commit {
			return none, kerr.InvalidTxnState
		}
	case PrepareAbort:
		if commit {
			return none, kerr.InvalidTxnState
		}
	default:
		return none, kerr.InvalidTxnState
	}
	if err := c.complete(t); err != nil {
		c.logger.Warn("could not finish a transaction; will retry", "transactional_id", id, "err", err)
		return none, kerr.ConcurrentTransactions
	}
	if v2 {
		return c.overflow(t)
	}
	return ProducerIDAndEpoch{t.PID, t.Epoch}, nil
}

// overflow moves t to a new producer id when its epoch cannot be bumped
// again (transaction version 2 bumps on every end), and returns the id and
// epoch the producer continues with. REQUIRES: t.mu held for writing.
func (c *Coordinator) overflow(t *txn) (ProducerIDAndEpoch, error) {
	if t.Epoch < math.MaxInt16-1 {
		return ProducerIDAndEpoch{t.PID, t.Epoch}, nil
	}
	pid, err := c.cfg.NextProducerID()
	if err != nil {
		return ProducerIDAndEpoch{-1, -1}, storageErr(err)
	}
	t.PrevPID, t.PrevEpoch = t.PID, t.Epoch
	c.setPID(t, pid)
	t.Epoch, t.LastEpoch = 0, -1
	if err := c.persist(t); err != nil {
		return ProducerIDAndEpoch{-1, -1}, storageErr(err)
	}
	return ProducerIDAndEpoch{t.PID, t.Epoch}, nil
}

// Guard is held by a transactional produce from its verification until its
// batches are appended; see the package doc.
type Guard struct {
	t *txn
}

// BeginProduce checks that pid at epoch owns an ongoing transaction and
// returns a Guard over it; the caller must Release it.
func (c *Coordinator) BeginProduce(pid int64, epoch int16) (*Guard, error) {
	c.mu.Lock()
	t := c.byPID[pid]
	c.mu.Unlock()
	if t == nil {
		return nil, kerr.InvalidProducerIDMapping
	}
	t.mu.RLock()
	switch {
	case t.gone || t.PID != pid:
		t.mu.RUnlock()
		return nil, kerr.InvalidProducerIDMapping
	case epoch != t.Epoch:
		t.mu.RUnlock()
		return nil, kerr.InvalidProducerEpoch
	case t.State != Ongoing:
		t.mu.RUnlock()
		return nil, kerr.InvalidTxnState
	}
	return &Guard{t: t}, nil
}

// Contains reports whether the partition is in the guarded transaction.
func (g *Guard) Contains(topic string, partition int32) bool {
	return slices.Contains(g.t.Partitions, TP{topic, partition})
}

// Release ends the guard.
func (g *Guard) Release() { g.t.mu.RUnlock() }

// HasPendingOffsets reports whether an open transaction has committed an
// offset of the partition for group that is not decided yet (OffsetFetch's
// require_stable).
func (c *Coordinator) HasPendingOffsets(group, topic string, partition int32) bool {
	c.mu.Lock()
	ts := make([]*txn, 0, len(c.txns))
	for _, t := range c.txns {
		ts = append(ts, t)
	}
	c.mu.Unlock()
	k := tpKey(topic, partition)
	for _, t := range ts {
		t.mu.RLock()
		_, ok := t.Offsets[group][k]
		pending := ok && (t.State == Ongoing || t.State == PrepareCommit)
		t.mu.RUnlock()
		if pending {
			return true
		}
	}
	return false
}

// Description describes one transactional id (DescribeTransactions).
type Description struct {
	ID         string
	State      State
	PID        int64
	Epoch      int16
	TimeoutMs  int32
	StartMs    int64 // -1 if no transaction is open
	Partitions []TP
}

// Describe describes id; ok is false when it is unknown.
func (c *Coordinator) Describe(id string) (Description, bool) {
	t := c.lookup(id)
	if t == nil {
		return Description{}, false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.gone {
		return Description{}, false
	}
	d := Description{ID: id, State: t.State, PID: t.PID, Epoch: t.Epoch, TimeoutMs: t.TimeoutMs, StartMs: t.StartMs, Partitions: slices.Clone(t.Partitions)}
	if d.StartMs < 0 || t.State == Empty || t.State == CompleteCommit || t.State == CompleteAbort {
		d.StartMs = -1
	}
	return d, true
}

// Listing is one transactional id of ListTransactions.
type Listing struct {
	ID    string
	PID   int64
	State State
}

// ListFilter selects transactions: empty slices and zero values match all.
type ListFilter struct {
	States []string
	PIDs   []int64
	// MinDuration keeps transactions open at least this long (v1), when
	// positive.
	MinDuration time.Duration
	// Pattern is a regular expression the id must match (v2); nil: any.
	Pattern *regexp.Regexp
}

// List lists transactional ids matching f, ordered by id.
func (c *Coordinator) List(f ListFilter) []Listing {
	c.mu.Lock()
	ts := make([]*txn, 0, len(c.txns))
	for _, t := range c.txns {
		ts = append(ts, t)
	}
	c.mu.Unlock()
	now := c.cfg.Now().UnixMilli()
	var out []Listing
	for _, t := range ts {
		t.mu.RLock()
		l := Listing{ID: t.id, PID: t.PID, State: t.State}
		start, gone := t.StartMs, t.gone
		t.mu.RUnlock()
		if gone ||
			(len(f.States) > 0 && !slices.Contains(f.States, l.State.String())) ||
			(len(f.PIDs) > 0 && !slices.Contains(f.PIDs, l.PID)) ||
			(f.Pattern != nil && !f.Pattern.MatchString(l.ID)) {
			continue
		}
		if f.MinDuration > 0 && (l.State != Ongoing || start < 0 || now-start < f.MinDuration.Milliseconds()) {
			continue
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listing) int { return strings.Compare(a.ID, b.ID) })
	return out
}
