package group

// KIP-848 consumer groups: ConsumerGroupHeartbeat and ConsumerGroupDescribe.
//
// A group is either classic or consumer at a time. A consumer group's
// members heartbeat; the coordinator keeps
//
//   - the group epoch, bumped when membership, a subscription or the
//     partition count of a subscribed topic changes;
//   - the target assignment, recomputed by a server-side assignor
//     ("uniform", the default, or "range") when the group epoch moves past
//     the assignment epoch;
//   - each member's current assignment and epoch, reconciled towards its
//     target one step per heartbeat (Kafka's CurrentAssignmentBuilder): a
//     member first revokes what it must give up (keeping its epoch until a
//     heartbeat's owned partitions show the revocation done), then moves to
//     the assignment epoch and gets the new partitions that no other member
//     still holds; the rest it gets on later heartbeats once released.
//
// The config's PartitionCount and TopicNames are called with the group's
// lock held: they must not call back into the coordinator.
//
// Members are kept in memory only: after a restart they rejoin with epoch 0
// (UNKNOWN_MEMBER_ID tells them to); committed offsets are durable as for
// classic groups.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Server-side assignors.
const (
	UniformAssignor = "uniform"
	RangeAssignor   = "range"
)

// Consumer group states, as Kafka names them.
const (
	consumerEmpty       = "Empty"
	consumerAssigning   = "Assigning"
	consumerReconciling = "Reconciling"
	consumerStable      = "Stable"
)

const consumerGroupType = "consumer"

// TopicPartitions is a set of partitions by topic name.
type TopicPartitions map[string][]int32

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat. Nil fields are
// unchanged since the member's last heartbeat.
type ConsumerHeartbeatRequest struct {
	Group            string
	MemberID         string
	MemberEpoch      int32
	InstanceID       *string
	RackID           *string
	ClientID         string
	ClientHost       string
	RebalanceTimeout time.Duration // < 0: unchanged
	SubscribedTopics []string
	SubscribedRegex  *string
	ServerAssignor   *string
	// Owned is the member's owned partitions; nil: unchanged.
	Owned TopicPartitions
}

// ConsumerHeartbeatResult answers a ConsumerGroupHeartbeat.
type ConsumerHeartbeatResult struct {
	Err               error
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	// Assignment is the member's full current assignment (nil on error).
	Assignment TopicPartitions
}

// consumerGroup is the KIP-848 state of a group; guarded by the group's mu.
type consumerGroup struct {
	epoch           int32
	assignmentEpoch int32
	members         map[string]*cmember
	// partitions is the partition count of each subscribed topic when the
	// group epoch was last bumped.
	partitions map[string]int32
	assignor   string
}

type cmember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	epoch, prevEpoch int32
	rebalanceTimeout time.Duration
	topics           []string
	regex            *string
	re               *regexp.Regexp
	assignor         string
	// left is set for a static member that left temporarily (epoch -2).
	left bool

	target        map[tp]bool
	assigned      map[tp]bool
	pendingRevoke map[tp]bool // revoked, not yet acknowledged

	hbTimer  Timer
	hbSeq    uint64
	revTimer Timer
	revSeq   uint64
}

func (m *cmember) stopTimers() {
	m.hbSeq++
	if m.hbTimer != nil {
		m.hbTimer.Stop()
		m.hbTimer = nil
	}
	m.stopRevocation()
}

func (m *cmember) stopRevocation() {
	m.revSeq++
	if m.revTimer != nil {
		m.revTimer.Stop()
		m.revTimer = nil
	}
}

// holds reports whether m still holds t (assigned or not yet revoked).
func (m *cmember) holds(t tp) bool { return m.assigned[t] || m.pendingRevoke[t] }

// ConsumerHeartbeat handles a ConsumerGroupHeartbeat.
func (c *Coordinator) ConsumerHeartbeat(req ConsumerHeartbeatRequest) ConsumerHeartbeatResult {
	res, err := c.consumerHeartbeat(req)
	if err != nil {
		return ConsumerHeartbeatResult{Err: err, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch}
	}
	return res
}

func (c *Coordinator) consumerHeartbeat(req ConsumerHeartbeatRequest) (ConsumerHeartbeatResult, error) {
	var res ConsumerHeartbeatResult
	if req.Group == "" {
		return res, fmt.Errorf("%w: the group id is empty", kerr.InvalidRequest)
	}
	switch {
	case req.MemberEpoch < -2:
		return res, fmt.Errorf("%w: invalid member epoch %d", kerr.InvalidRequest, req.MemberEpoch)
	case req.MemberEpoch == -2 && req.InstanceID == nil:
		return res, fmt.Errorf("%w: a static leave needs an instance id", kerr.InvalidRequest)
	case req.MemberEpoch == 0:
		if len(req.SubscribedTopics) == 0 && (req.SubscribedRegex == nil || *req.SubscribedRegex == "") {
			return res, fmt.Errorf("%w: subscribed topic names or regex must be set when joining", kerr.InvalidRequest)
		}
		if req.Owned == nil {
			req.Owned = TopicPartitions{}
		}
	case req.MemberEpoch > 0 && req.MemberID == "":
		return res, fmt.Errorf("%w: the member id is empty", kerr.InvalidRequest)
	}
	var re *regexp.Regexp
	if req.SubscribedRegex != nil && *req.SubscribedRegex != "" {
		var err error
		if re, err = regexp.Compile("^(?:" + *req.SubscribedRegex + ")$"); err != nil {
			return res, fmt.Errorf("%w: invalid regex: %v", kerr.InvalidRegularExpression, err)
		}
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != "" && *req.ServerAssignor != UniformAssignor && *req.ServerAssignor != RangeAssignor {
		return res, fmt.Errorf("%w: %q", kerr.UnsupportedAssignor, *req.ServerAssignor)
	}
	if err := c.usable(); err != nil {
		return res, err
	}
	g, err := c.lockGroup(req.Group, req.MemberEpoch == 0)
	if err != nil {
		return res, err
	}
	if g == nil {
		return res, kerr.UnknownMemberID
	}
	defer g.mu.Unlock()
	if g.cg == nil {
		if len(g.members) > 0 || g.state != Empty {
			return res, fmt.Errorf("%w: group %s is not a consumer group", kerr.GroupIDNotFound, g.id)
		}
		if req.MemberEpoch != 0 {
			return res, kerr.UnknownMemberID
		}
		g.cg = &consumerGroup{members: map[string]*cmember{}, partitions: map[string]int32{}}
		g.protocolType, g.protocol, g.leader = consumerProtocolType, "", ""
	}
	cg := g.cg

	if req.MemberEpoch < 0 {
		m := cg.members[req.MemberID]
		if m == nil {
			return res, kerr.UnknownMemberID
		}
		if req.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *req.InstanceID) {
			return res, kerr.FencedInstanceID
		}
		if req.MemberEpoch == -2 {
			// A static member leaving for a while: it keeps its assignment
			// until it rejoins or its session expires.
			m.left = true
			g.armConsumerSession(m)
		} else {
			c.logger.Info("consumer group member leaving", "group", g.id, "member", m.id)
			g.removeConsumerMember(m)
		}
		return ConsumerHeartbeatResult{MemberID: req.MemberID, MemberEpoch: req.MemberEpoch, HeartbeatInterval: c.cfg.ConsumerHeartbeatInterval}, nil
	}

	m := cg.members[req.MemberID]
	bump := false
	if req.MemberEpoch == 0 {
		if m == nil && req.InstanceID != nil {
			// A static member rejoining takes its predecessor's place.
			for _, o := range cg.members {
				if o.instanceID != nil && *o.instanceID == *req.InstanceID {
					if !o.left {
						return res, fmt.Errorf("%w: instance %s is in use", kerr.UnreleasedInstanceID, *req.InstanceID)
					}
					o.stopTimers()
					delete(cg.members, o.id)
					if req.MemberID == "" {
						req.MemberID = newMemberID(req.ClientID, nil)
					}
					o.id, o.left = req.MemberID, false
					cg.members[o.id] = o
					m = o
					// It rejoins holding nothing: what it had is free.
					m.assigned, m.pendingRevoke = map[tp]bool{}, map[tp]bool{}
					m.epoch, m.prevEpoch = 0, 0
					break
				}
			}
		}
		if m == nil {
			if c.cfg.MaxGroupSize > 0 && len(cg.members) >= c.cfg.MaxGroupSize {
				return res, kerr.GroupMaxSizeReached
			}
			if req.MemberID == "" {
				req.MemberID = newMemberID(req.ClientID, nil)
			}
			m = &cmember{id: req.MemberID, assigned: map[tp]bool{}, pendingRevoke: map[tp]bool{}, target: map[tp]bool{}, assignor: UniformAssignor}
			cg.members[m.id] = m
			bump = true
			c.logger.Info("consumer group member joined", "group", g.id, "member", m.id)
		} else if m.epoch != 0 {
			// Rejoining with epoch 0: it gave up everything it had.
			m.assigned, m.pendingRevoke = map[tp]bool{}, map[tp]bool{}
			m.prevEpoch, m.epoch = m.epoch, 0
		}
	} else {
		if m == nil {
			return res, kerr.UnknownMemberID
		}
		if req.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *req.InstanceID) {
			return res, kerr.FencedInstanceID
		}
		if req.MemberEpoch > m.epoch {
			return res, kerr.FencedMemberEpoch
		}
		if req.MemberEpoch < m.epoch {
			// A member that lost our last answer may heartbeat with its
			// previous epoch, if it owns nothing it should not.
			if req.MemberEpoch != m.prevEpoch || req.Owned == nil || !ownedSubset(req.Owned, m.assigned) {
				return res, kerr.FencedMemberEpoch
			}
		}
	}
	m.left = false
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.InstanceID != nil {
		m.instanceID = req.InstanceID
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.RebalanceTimeout >= 0 {
		m.rebalanceTimeout = req.RebalanceTimeout
	}
	if req.SubscribedTopics != nil {
		ts := slices.Clone(req.SubscribedTopics)
		slices.Sort(ts)
		ts = slices.Compact(ts)
		if !slices.Equal(ts, m.topics) {
			m.topics, bump = ts, true
		}
	}
	if req.SubscribedRegex != nil {
		if (m.regex == nil) != (re == nil) || m.regex != nil && *m.regex != *req.SubscribedRegex {
			bump = true
		}
		m.regex, m.re = req.SubscribedRegex, re
		if re == nil {
			m.regex = nil
		}
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != "" && *req.ServerAssignor != m.assignor {
		m.assignor, bump = *req.ServerAssignor, true
	}
	// Subscribed topics created, deleted or grown since the last epoch.
	counts := g.subscribedPartitions()
	if !mapsEqual(counts, cg.partitions) {
		cg.partitions, bump = counts, true
	}
	if bump {
		cg.epoch++
		g.updateConsumerState()
	}
	if cg.assignmentEpoch < cg.epoch {
		g.computeTarget()
	}
	g.reconcile(m, req.Owned)
	g.armConsumerSession(m)
	g.updateConsumerState()
	return ConsumerHeartbeatResult{
		MemberID:          m.id,
		MemberEpoch:       m.epoch,
		HeartbeatInterval: c.cfg.ConsumerHeartbeatInterval,
		Assignment:        toTopicPartitions(m.assigned),
	}, nil
}

func mapsEqual(a, b map[string]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func ownedSubset(owned TopicPartitions, of map[tp]bool) bool {
	for t, ps := range owned {
		for _, p := range ps {
			if !of[tp{t, p}] {
				return false
			}
		}
	}
	return true
}

func toTopicPartitions(s map[tp]bool) TopicPartitions {
	out := TopicPartitions{}
	for t := range s {
		out[t.topic] = append(out[t.topic], t.partition)
	}
	for t := range out {
		slices.Sort(out[t])
	}
	return out
}

// memberTopics is the set of existing topics m subscribes to.
func (g *group) memberTopics(m *cmember, all []string) []string {
	var out []string
	for _, t := range m.topics {
		if g.c.cfg.PartitionCount == nil || g.c.cfg.PartitionCount(t) > 0 {
			out = append(out, t)
		}
	}
	if m.re != nil {
		for _, t := range all {
			if m.re.MatchString(t) && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (g *group) allTopics() []string {
	if g.c.cfg.TopicNames == nil {
		return nil
	}
	// Like Kafka, a regex may match internal topics too.
	ts := g.c.cfg.TopicNames()
	slices.Sort(ts)
	return ts
}

// subscribedPartitions is the partition count of every topic a member
// subscribes to (0 for one that does not exist).
func (g *group) subscribedPartitions() map[string]int32 {
	all := g.allTopics()
	out := map[string]int32{}
	for _, m := range g.cg.members {
		for _, t := range m.topics {
			out[t] = g.partitionCount(t)
		}
		if m.re != nil {
			for _, t := range g.memberTopics(m, all) {
				out[t] = g.partitionCount(t)
			}
		}
	}
	return out
}

func (g *group) partitionCount(topic string) int32 {
	if g.c.cfg.PartitionCount == nil {
		return 0
	}
	return max(g.c.cfg.PartitionCount(topic), 0)
}

// computeTarget runs the assignor over the members and subscriptions.
func (g *group) computeTarget() {
	cg := g.cg
	all := g.allTopics()
	ids := make([]string, 0, len(cg.members))
	subs := map[string][]string{}
	assignor := UniformAssignor
	votes := map[string]int{}
	for id, m := range cg.members {
		ids = append(ids, id)
		subs[id] = g.memberTopics(m, all)
		votes[m.assignor]++
	}
	slices.Sort(ids)
	if votes[RangeAssignor] > votes[UniformAssignor] {
		assignor = RangeAssignor
	}
	cg.assignor = assignor
	prev := map[string]map[tp]bool{}
	for id, m := range cg.members {
		prev[id] = m.target
	}
	var target map[string]map[tp]bool
	if assignor == RangeAssignor {
		target = assignRange(ids, subs, cg.partitions)
	} else {
		target = assignUniform(ids, subs, cg.partitions, prev)
	}
	for id, m := range cg.members {
		m.target = target[id]
		if m.target == nil {
			m.target = map[tp]bool{}
		}
	}
	cg.assignmentEpoch = cg.epoch
	// The group's subscribed topics, for offsets expiration.
	g.subscribed = map[string]bool{}
	for t := range cg.partitions {
		g.subscribed[t] = true
	}
}

// assignRange gives each topic's members contiguous ranges of partitions.
func assignRange(ids []string, subs map[string][]string, counts map[string]int32) map[string]map[tp]bool {
	out := map[string]map[tp]bool{}
	for _, id := range ids {
		out[id] = map[tp]bool{}
	}
	for topic, n := range counts {
		var ms []string
		for _, id := range ids {
			if slices.Contains(subs[id], topic) {
				ms = append(ms, id)
			}
		}
		if len(ms) == 0 {
			continue
		}
		per, extra := int(n)/len(ms), int(n)%len(ms)
		p := int32(0)
		for i, id := range ms {
			k := per
			if i < extra {
				k++
			}
			for range k {
				out[id][tp{topic, p}] = true
				p++
			}
		}
	}
	return out
}

// assignUniform balances partitions over the members subscribed to their
// topics, keeping partitions where they were when that stays balanced.
func assignUniform(ids []string, subs map[string][]string, counts map[string]int32, prev map[string]map[tp]bool) map[string]map[tp]bool {
	out := map[string]map[tp]bool{}
	for _, id := range ids {
		out[id] = map[tp]bool{}
	}
	if len(ids) == 0 {
		return out
	}
	subscribed := func(id, topic string) bool { return slices.Contains(subs[id], topic) }
	var parts []tp
	topics := make([]string, 0, len(counts))
	for t := range counts {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		for p := range counts[t] {
			parts = append(parts, tp{t, p})
		}
	}
	quota := (len(parts) + len(ids) - 1) / len(ids)
	owner := map[tp]string{}
	// Sticky: keep previous targets up to the quota.
	for _, id := range ids {
		var kept []tp
		for t := range prev[id] {
			if t.partition < counts[t.topic] && subscribed(id, t.topic) {
				kept = append(kept, t)
			}
		}
		sortTPs(kept)
		for _, t := range kept {
			if _, taken := owner[t]; !taken && len(out[id]) < quota {
				out[id][t], owner[t] = true, id
			}
		}
	}
	// The rest to the least loaded member subscribed to the topic.
	for _, t := range parts {
		if _, ok := owner[t]; ok {
			continue
		}
		best := ""
		for _, id := range ids {
			if subscribed(id, t.topic) && (best == "" || len(out[id]) < len(out[best])) {
				best = id
			}
		}
		if best != "" {
			out[best][t], owner[t] = true, best
		}
	}
	// Even out: move partitions from members with two more than another
	// member subscribed to their topic.
	for moved := true; moved; {
		moved = false
		for _, t := range parts {
			from, ok := owner[t]
			if !ok {
				continue
			}
			for _, id := range ids {
				if id != from && subscribed(id, t.topic) && len(out[id])+1 < len(out[from]) {
					delete(out[from], t)
					out[id][t], owner[t] = true, id
					moved = true
					break
				}
			}
		}
	}
	return out
}

// reconcile moves m one step towards its target (Kafka's
// CurrentAssignmentBuilder). owned, when not nil, is what the member says
// it owns: pending revocations it no longer owns are done.
func (g *group) reconcile(m *cmember, owned TopicPartitions) {
	cg := g.cg
	if len(m.pendingRevoke) > 0 && owned != nil {
		still := false
		for t := range m.pendingRevoke {
			if slices.Contains(owned[t.topic], t.partition) {
				still = true
				break
			}
		}
		if !still {
			clear(m.pendingRevoke)
			m.stopRevocation()
		}
	}
	if len(m.pendingRevoke) > 0 {
		return // UNREVOKED_PARTITIONS: wait for the revocation
	}
	// Revoke what is no longer ours first.
	for t := range m.assigned {
		if !m.target[t] {
			m.pendingRevoke[t] = true
			delete(m.assigned, t)
		}
	}
	if len(m.pendingRevoke) > 0 {
		g.armRevocation(m)
		return
	}
	// Take what is free of our target.
	for t := range m.target {
		if m.assigned[t] {
			continue
		}
		free := true
		for _, o := range cg.members {
			if o != m && o.holds(t) {
				free = false
				break
			}
		}
		if free {
			m.assigned[t] = true
		}
	}
	if m.epoch != cg.assignmentEpoch {
		m.prevEpoch, m.epoch = m.epoch, cg.assignmentEpoch
	}
}

// armConsumerSession (re)starts m's session timer.
func (g *group) armConsumerSession(m *cmember) {
	m.hbSeq++
	if m.hbTimer != nil {
		m.hbTimer.Stop()
	}
	seq := m.hbSeq
	m.hbTimer = g.c.clock.AfterFunc(g.c.cfg.ConsumerSessionTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if m.hbSeq != seq || g.state == Dead || g.cg == nil || g.cg.members[m.id] != m {
			return
		}
		g.c.logger.Info("consumer group member session expired; removing it", "group", g.id, "member", m.id)
		g.removeConsumerMember(m)
	})
}

// armRevocation fences m if it does not revoke within its rebalance
// timeout.
func (g *group) armRevocation(m *cmember) {
	m.stopRevocation()
	d := m.rebalanceTimeout
	if d <= 0 {
		d = g.c.cfg.ConsumerSessionTimeout
	}
	seq := m.revSeq
	m.revTimer = g.c.clock.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if m.revSeq != seq || g.state == Dead || g.cg == nil || g.cg.members[m.id] != m || len(m.pendingRevoke) == 0 {
			return
		}
		g.c.logger.Info("consumer group member did not revoke in time; removing it", "group", g.id, "member", m.id)
		g.removeConsumerMember(m)
	})
}

// removeConsumerMember drops m (its partitions are free at once) and bumps
// the group epoch.
func (g *group) removeConsumerMember(m *cmember) {
	m.stopTimers()
	delete(g.cg.members, m.id)
	g.cg.epoch++
	g.cg.partitions = g.subscribedPartitions()
	g.updateConsumerState()
}

// updateConsumerState keeps the classic state in step (Empty or Stable),
// for offsets expiration and DeleteGroups.
func (g *group) updateConsumerState() {
	switch {
	case len(g.cg.members) == 0 && g.state != Empty:
		g.transition(Empty)
		g.subscribed = nil
	case len(g.cg.members) > 0 && g.state != Stable:
		g.transition(Stable)
	}
}

// consumerState is the group's state as Kafka names it.
func (g *group) consumerState() string {
	cg := g.cg
	switch {
	case len(cg.members) == 0:
		return consumerEmpty
	case cg.assignmentEpoch < cg.epoch:
		return consumerAssigning
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || len(m.pendingRevoke) > 0 || len(m.assigned) != len(m.target) {
			return consumerReconciling
		}
	}
	return consumerStable
}

// stopConsumerTimers stops every member's timers (Close).
func (g *group) stopConsumerTimers() {
	if g.cg == nil {
		return
	}
	for _, m := range g.cg.members {
		m.stopTimers()
	}
}

// validateConsumerCommit is ConsumerGroup.validateOffsetCommit: a member
// commits with its current epoch, or an older one for partitions it still
// holds; a newer one is STALE_MEMBER_EPOCH. Generation -1 without a member
// is an admin commit, allowed only when the group is empty.
func (g *group) validateConsumerCommit(memberID string, epoch int32, tps []tp) error {
	if epoch < 0 && memberID == "" {
		if len(g.cg.members) > 0 {
			return kerr.UnknownMemberID
		}
		return nil
	}
	m := g.cg.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID
	}
	switch {
	case epoch == m.epoch:
		return nil
	case epoch > m.epoch || epoch < 0:
		return kerr.StaleMemberEpoch
	}
	for _, t := range tps {
		if !m.holds(t) {
			return kerr.StaleMemberEpoch
		}
	}
	return nil
}

// validateFetch is ConsumerGroup.validateOffsetFetch (OffsetFetch v9,
// KIP-848): a fetch naming a member must come from a current member
// (UNKNOWN_MEMBER_ID) at its current epoch (STALE_MEMBER_EPOCH). A nil
// member id with a negative epoch is an admin or a consumer outside the
// group and is not checked; neither is anything sent to a classic group
// (ClassicGroup.validateOffsetFetch only checks the group is not dead).
func (g *group) validateFetch(memberID *string, epoch int32) error {
	if g.cg == nil || memberID == nil && epoch < 0 {
		return nil
	}
	id := ""
	if memberID != nil {
		id = *memberID
	}
	m := g.cg.members[id]
	if m == nil {
		return fmt.Errorf("%w: member %q is not a member of group %q", kerr.UnknownMemberID, id, g.id)
	}
	if epoch != m.epoch {
		return fmt.Errorf("%w: received member epoch %d, expected %d", kerr.StaleMemberEpoch, epoch, m.epoch)
	}
	return nil
}

// ConsumerMemberDescription is one member of ConsumerGroupDescribe.
type ConsumerMemberDescription struct {
	MemberID         string
	InstanceID       *string
	RackID           *string
	MemberEpoch      int32
	ClientID         string
	ClientHost       string
	SubscribedTopics []string
	SubscribedRegex  *string
	Assignment       TopicPartitions
	TargetAssignment TopicPartitions
}

// ConsumerGroupDescription is one group of ConsumerGroupDescribe.
type ConsumerGroupDescription struct {
	Group           string
	Err             error
	State           string
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
}

// ConsumerDescribe handles ConsumerGroupDescribe: a group that does not
// exist, or is not a consumer group, gets GROUP_ID_NOT_FOUND.
func (c *Coordinator) ConsumerDescribe(ids []string) []ConsumerGroupDescription {
	out := make([]ConsumerGroupDescription, len(ids))
	err := c.usable()
	for i, id := range ids {
		d := &out[i]
		d.Group = id
		if err != nil {
			d.Err = err
			continue
		}
		if id == "" {
			d.Err = kerr.InvalidGroupID
			continue
		}
		g, _ := c.lockGroup(id, false)
		if g == nil {
			d.Err = fmt.Errorf("%w: group %s not found", kerr.GroupIDNotFound, id)
			continue
		}
		if g.cg == nil {
			d.Err = fmt.Errorf("%w: group %s is not a consumer group", kerr.GroupIDNotFound, id)
			g.mu.Unlock()
			continue
		}
		cg := g.cg
		d.State, d.Epoch, d.AssignmentEpoch = g.consumerState(), cg.epoch, cg.assignmentEpoch
		d.Assignor = cg.assignor
		if d.Assignor == "" {
			d.Assignor = UniformAssignor
		}
		ms := make([]*cmember, 0, len(cg.members))
		for _, m := range cg.members {
			ms = append(ms, m)
		}
		slices.SortFunc(ms, func(a, b *cmember) int { return strings.Compare(a.id, b.id) })
		for _, m := range ms {
			d.Members = append(d.Members, ConsumerMemberDescription{
				MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID, MemberEpoch: m.epoch,
				ClientID: m.clientID, ClientHost: m.clientHost, SubscribedTopics: slices.Clone(m.topics),
				SubscribedRegex: m.regex, Assignment: toTopicPartitions(m.assigned), TargetAssignment: toTopicPartitions(m.target),
			})
		}
		g.mu.Unlock()
	}
	return out
}
