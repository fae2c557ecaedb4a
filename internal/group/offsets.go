package group

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// CommitRequest is an OffsetCommit.
type CommitRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	// Generation is -1 for a "simple" commit (a consumer using assign()).
	Generation int32
	// RetentionTime is OffsetCommit v2-v4's retention_time_ms; negative is
	// the default (-1): no per-offset expiry.
	RetentionTime time.Duration
	Topics        []CommitTopic
}

// CommitTopic is one topic of a commit.
type CommitTopic struct {
	Topic      string
	Partitions []CommitPartition
}

// CommitPartition is one partition of a commit.
type CommitPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32   // -1: none
	Metadata    *string // nil is stored as ""
	// Timestamp is OffsetCommit v1's commit timestamp; -1 means now.
	Timestamp int64
}

// CommitResult answers a commit: Errs[i][j] is the error of partition j of
// topic i of the request (nil: committed).
type CommitResult struct {
	Errs [][]error
}

// Commit handles an OffsetCommit: every partition of the request gets an
// answer. Accepted offsets are appended as one batch; the answer (on the
// returned channel) comes once they are durable, and only then are they
// visible to Fetch.
func (c *Coordinator) Commit(req CommitRequest) <-chan CommitResult {
	ch := make(chan CommitResult, 1)
	res := CommitResult{Errs: make([][]error, len(req.Topics))}
	for i, t := range req.Topics {
		res.Errs[i] = make([]error, len(t.Partitions))
	}
	type at struct{ i, j int }
	var todo []at
	// Unknown partitions first, as Kafka's request layer does before the
	// coordinator sees the rest.
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if c.cfg.PartitionExists != nil && !c.cfg.PartitionExists(t.Topic, p.Partition) {
				res.Errs[i][j] = kerr.UnknownTopicOrPartition
				continue
			}
			todo = append(todo, at{i, j})
		}
	}
	all := func(err error) <-chan CommitResult {
		for _, a := range todo {
			res.Errs[a.i][a.j] = err
		}
		ch <- res
		return ch
	}
	if len(todo) == 0 {
		ch <- res
		return ch
	}
	if err := c.usable(); err != nil {
		return all(err)
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return all(err)
	}
	if g == nil {
		if req.Generation >= 0 {
			// A member of a group we do not know: an old generation.
			return all(kerr.IllegalGeneration)
		}
		// Not using us for group management: the commit creates the group.
		if g, err = c.lockGroup(req.Group, true); err != nil {
			return all(err)
		}
	}
	defer g.mu.Unlock()

	// Kafka's validateOffsetCommit.
	if g.cg != nil {
		tps := make([]tp, 0, len(todo))
		for _, a := range todo {
			tps = append(tps, tp{req.Topics[a.i].Topic, req.Topics[a.i].Partitions[a.j].Partition})
		}
		if err := g.validateConsumerCommit(req.MemberID, req.Generation, tps); err != nil {
			return all(err)
		}
	} else if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
			return all(err)
		}
		if req.Generation != g.generation {
			return all(kerr.IllegalGeneration)
		}
	} else if g.state != Empty {
		// Only members commit to a group with members.
		return all(kerr.UnknownMemberID)
	}
	switch g.state {
	case CompletingRebalance:
		// A member that got its join answer but not its assignment yet.
		return all(kerr.RebalanceInProgress)
	case Stable, PreparingRebalance:
		// Committing is allowed while preparing: the heartbeat answer tells
		// the member to rejoin.
		if m := g.members[req.MemberID]; m != nil {
			g.armHeartbeat(m, m.sessionTimeout)
		}
	}

	now := c.clock.Now()
	type staged struct {
		at
		tp tp
		o  Offset
	}
	var recs []kv
	var stage []staged
	for _, a := range todo {
		t := &req.Topics[a.i]
		p := &t.Partitions[a.j]
		md := ""
		if p.Metadata != nil {
			md = *p.Metadata
		}
		if len(md) > c.cfg.OffsetMetadataMaxBytes {
			res.Errs[a.i][a.j] = kerr.OffsetMetadataTooLarge
			continue
		}
		o := Offset{Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: md, CommitTime: now}
		if o.LeaderEpoch < 0 {
			o.LeaderEpoch = -1
		}
		if p.Timestamp >= 0 {
			o.CommitTime = time.UnixMilli(p.Timestamp)
		}
		if req.RetentionTime >= 0 {
			o.ExpireTime = now.Add(req.RetentionTime)
		}
		k := tp{t.Topic, p.Partition}
		recs = append(recs, kv{offsetKey(g.id, k.topic, k.partition), offsetValue(o)})
		stage = append(stage, staged{a, k, o})
	}
	if len(recs) == 0 {
		ch <- res
		return ch
	}
	for _, s := range stage {
		g.pendingCommits[s.tp]++
	}
	done := func(err error) {
		for _, s := range stage {
			if g.pendingCommits[s.tp]--; g.pendingCommits[s.tp] <= 0 {
				delete(g.pendingCommits, s.tp)
			}
			// A group deleted meanwhile wrote its tombstones after these.
			if err == nil && g.state != Dead {
				g.offsets[s.tp] = s.o
			}
			res.Errs[s.i][s.j] = storeError(err, true)
		}
	}
	err = c.st.append(now, recs, func(err error) {
		g.mu.Lock()
		done(err)
		g.mu.Unlock()
		ch <- res
	})
	if err != nil {
		done(err)
		ch <- res
	}
	return ch
}

// FetchRequest is one group of an OffsetFetch.
type FetchRequest struct {
	Group string
	// Topics nil means every offset the group has committed.
	Topics        []FetchTopic
	RequireStable bool
	// MemberID and MemberEpoch are OffsetFetch v9's (KIP-848): a member of
	// a consumer-protocol group fetches with its id and current epoch. A
	// nil member id with a negative epoch (an admin, a consumer outside
	// the group, any request before v9) is not checked; classic groups
	// ignore both.
	MemberID    *string
	MemberEpoch int32
}

// FetchTopic names partitions of a topic.
type FetchTopic struct {
	Topic      string
	Partitions []int32
}

// FetchResult answers a fetch: Err is for the whole group.
type FetchResult struct {
	Err    error
	Topics []FetchTopicResult
}

// FetchTopicResult is one topic of a FetchResult.
type FetchTopicResult struct {
	Topic      string
	Partitions []FetchPartition
}

// FetchPartition is one partition's committed offset; -1 (with metadata ""
// and leader epoch -1) if none.
type FetchPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Err         error
}

// Fetch handles one group of an OffsetFetch: every requested partition is
// answered, in request order; without topics, every committed offset, in
// topic and partition order.
func (c *Coordinator) Fetch(req FetchRequest) FetchResult {
	if err := c.usable(); err != nil {
		return FetchResult{Err: err}
	}
	c.mu.RLock()
	g := c.groups[req.Group]
	c.mu.RUnlock()
	var offsets map[tp]Offset
	if g != nil {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.state != Dead {
			if err := g.validateFetch(req.MemberID, req.MemberEpoch); err != nil {
				return FetchResult{Err: err}
			}
			offsets = g.offsets
		}
	}
	part := func(t string, p int32) FetchPartition {
		if o, ok := offsets[tp{t, p}]; ok {
			return FetchPartition{Partition: p, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata}
		}
		return FetchPartition{Partition: p, Offset: -1, LeaderEpoch: -1}
	}
	var res FetchResult
	if req.Topics == nil {
		tps := make([]tp, 0, len(offsets))
		for t := range offsets {
			tps = append(tps, t)
		}
		sortTPs(tps)
		for _, t := range tps {
			if n := len(res.Topics); n == 0 || res.Topics[n-1].Topic != t.topic {
				res.Topics = append(res.Topics, FetchTopicResult{Topic: t.topic})
			}
			last := &res.Topics[len(res.Topics)-1]
			last.Partitions = append(last.Partitions, part(t.topic, t.partition))
		}
		return res
	}
	res.Topics = make([]FetchTopicResult, len(req.Topics))
	for i, t := range req.Topics {
		res.Topics[i].Topic = t.Topic
		res.Topics[i].Partitions = make([]FetchPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			res.Topics[i].Partitions[j] = part(t.Topic, p)
		}
	}
	return res
}

// DeleteOffsetsResult answers an OffsetDelete: Err is for the whole group;
// otherwise Errs[i][j] is the error of partition j of topic i.
type DeleteOffsetsResult struct {
	Err  error
	Errs [][]error
}

// DeleteOffsets handles an OffsetDelete (KIP-496): an Empty group loses the
// offsets; a consumer group with members loses those of topics no member
// subscribes to (GROUP_SUBSCRIBED_TO_TOPIC for the others); any other group
// with members refuses (NON_EMPTY_GROUP). The answer comes once the
// tombstones are durable.
func (c *Coordinator) DeleteOffsets(groupID string, topics []FetchTopic) <-chan DeleteOffsetsResult {
	ch := make(chan DeleteOffsetsResult, 1)
	fail := func(err error) <-chan DeleteOffsetsResult {
		ch <- DeleteOffsetsResult{Err: err}
		return ch
	}
	if groupID == "" {
		return fail(kerr.InvalidGroupID)
	}
	if err := c.usable(); err != nil {
		return fail(err)
	}
	res := DeleteOffsetsResult{Errs: make([][]error, len(topics))}
	for i, t := range topics {
		res.Errs[i] = make([]error, len(t.Partitions))
	}
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return fail(err)
	}
	if g == nil {
		return fail(kerr.GroupIDNotFound)
	}
	defer g.mu.Unlock()
	switch g.state {
	case Empty:
	case PreparingRebalance, CompletingRebalance, Stable:
		if g.protocolType != consumerProtocolType {
			return fail(kerr.NonEmptyGroup)
		}
	default:
		return fail(kerr.GroupIDNotFound)
	}
	var doomed []tp
	type at struct{ i, j int }
	var eligible []at
	for i, t := range topics {
		for j, p := range t.Partitions {
			switch {
			case c.cfg.PartitionExists != nil && !c.cfg.PartitionExists(t.Topic, p):
				res.Errs[i][j] = kerr.UnknownTopicOrPartition
			case g.state != Empty && g.subscribed[t.Topic]:
				res.Errs[i][j] = kerr.GroupSubscribedToTopic
			default:
				eligible = append(eligible, at{i, j})
				k := tp{t.Topic, p}
				if _, ok := g.offsets[k]; ok || g.pendingCommits[k] > 0 {
					doomed = append(doomed, k)
				}
			}
		}
	}
	if len(doomed) == 0 {
		ch <- res
		return ch
	}
	setAll := func(err error) {
		for _, a := range eligible {
			res.Errs[a.i][a.j] = err
		}
	}
	err = c.st.append(c.clock.Now(), tombstones(g.id, doomed), func(err error) {
		g.mu.Lock()
		if err == nil {
			for _, t := range doomed {
				delete(g.offsets, t)
			}
		}
		g.mu.Unlock()
		setAll(storeError(err, false))
		ch <- res
	})
	if err != nil {
		setAll(storeError(err, false))
		ch <- res
	}
	return ch
}

// String is for logs and test failures.
func (o Offset) String() string {
	return fmt.Sprintf("%d (epoch %d, metadata %q)", o.Offset, o.LeaderEpoch, o.Metadata)
}
