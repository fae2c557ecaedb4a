package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Offsets committed inside transactions (TxnOffsetCommit) are held by the
// transaction coordinator (internal/txn) until the transaction commits;
// then CommitTxn writes them here. The member checks happen when the
// TxnOffsetCommit arrives (ValidateTxnMember).

// ValidateTxnMember applies Kafka's member checks of TxnOffsetCommit v3+:
// a commit that names no member (generation -1, member "") is accepted as
// from a producer outside group management; otherwise the member must be
// the group's, in its generation (classic) or member epoch (consumer
// protocol; a stale epoch is ILLEGAL_GENERATION here, which transactional
// producers understand, as Kafka answers).
func (c *Coordinator) ValidateTxnMember(groupID, memberID string, instanceID *string, generation int32) error {
	if err := c.usable(); err != nil {
		return err
	}
	if generation < 0 && memberID == "" && instanceID == nil {
		return nil
	}
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return err
	}
	if g == nil {
		return kerr.IllegalGeneration
	}
	defer g.mu.Unlock()
	if g.cg != nil {
		m := g.cg.members[memberID]
		if m == nil {
			return kerr.UnknownMemberID
		}
		if generation != m.epoch {
			return kerr.IllegalGeneration
		}
		return nil
	}
	if err := g.validateMember(memberID, instanceID); err != nil {
		return err
	}
	if generation != g.generation {
		return kerr.IllegalGeneration
	}
	return nil
}

// TxnOffset is one offset of a committed transaction.
type TxnOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  time.Time
}

// CommitTxn makes the offsets of a committed transaction the group's
// committed offsets, without member checks, and returns once they are
// durable. The group is created if it does not exist (as Kafka's
// transactional commits do).
func (c *Coordinator) CommitTxn(groupID string, offsets []TxnOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	if err := c.usable(); err != nil {
		return err
	}
	g, err := c.lockGroup(groupID, true)
	if err != nil {
		return err
	}
	recs := make([]kv, 0, len(offsets))
	stage := make([]struct {
		tp tp
		o  Offset
	}, 0, len(offsets))
	for _, o := range offsets {
		off := Offset{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTime: o.CommitTime}
		if off.LeaderEpoch < 0 {
			off.LeaderEpoch = -1
		}
		k := tp{o.Topic, o.Partition}
		recs = append(recs, kv{offsetKey(g.id, k.topic, k.partition), offsetValue(off)})
		stage = append(stage, struct {
			tp tp
			o  Offset
		}{k, off})
		g.pendingCommits[k]++
	}
	done := func(err error) {
		for _, s := range stage {
			if g.pendingCommits[s.tp]--; g.pendingCommits[s.tp] <= 0 {
				delete(g.pendingCommits, s.tp)
			}
			if err == nil && g.state != Dead {
				g.offsets[s.tp] = s.o
			}
		}
	}
	ch := make(chan error, 1)
	err = c.st.append(c.clock.Now(), recs, func(err error) {
		g.mu.Lock()
		done(err)
		g.mu.Unlock()
		ch <- storeError(err, true)
	})
	if err != nil {
		done(err)
		g.mu.Unlock()
		return storeError(err, true)
	}
	g.mu.Unlock()
	return <-ch
}
