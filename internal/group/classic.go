package group

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Protocol is one assignment protocol a member supports (preference order).
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup.
type JoinRequest struct {
	Group            string
	MemberID         string
	InstanceID       *string // KIP-345 static membership (v5+)
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration // v0: the session timeout
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID (v4+, KIP-394): a dynamic member without an id
	// gets MEMBER_ID_REQUIRED with an id to join with.
	RequireKnownMemberID bool
	// SupportsSkipAssignment (v9+, KIP-814): a static leader rejoining a
	// Stable group is told it leads but must not assign.
	SupportsSkipAssignment bool
	Reason                 string
}

// JoinMember is a member as the leader sees it.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult answers a JoinGroup.
type JoinResult struct {
	Err            error
	MemberID       string
	Generation     int32
	ProtocolType   *string
	Protocol       *string
	Leader         string
	SkipAssignment bool
	Members        []JoinMember // the leader's only
}

// SyncRequest is a SyncGroup.
type SyncRequest struct {
	Group        string
	Generation   int32
	MemberID     string
	InstanceID   *string
	ProtocolType *string // v5+
	Protocol     *string // v5+
	Assignments  []Assignment
}

// Assignment is the leader's assignment for one member.
type Assignment struct {
	MemberID   string
	Assignment []byte
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	Err          error
	ProtocolType *string
	Protocol     *string
	Assignment   []byte
}

// HeartbeatRequest is a Heartbeat.
type HeartbeatRequest struct {
	Group      string
	Generation int32
	MemberID   string
	InstanceID *string
}

// LeaveMember is one member of a LeaveGroup (v0-v2 have exactly one, by
// member id; v3+ may name members by instance id alone).
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     string
}

func joinError(memberID string, err error) JoinResult {
	return JoinResult{Err: err, MemberID: memberID, Generation: -1}
}

// Join handles a JoinGroup: the answer arrives on the returned channel, at
// once or when the rebalance completes. Kafka's GroupCoordinator
// handleJoinGroup, step for step.
func (c *Coordinator) Join(req JoinRequest) <-chan JoinResult {
	ch := make(chan JoinResult, 1)
	fail := func(memberID string, err error) <-chan JoinResult {
		ch <- joinError(memberID, err)
		return ch
	}
	if req.Group == "" {
		return fail(req.MemberID, kerr.InvalidGroupID)
	}
	if err := c.usable(); err != nil {
		return fail(req.MemberID, err)
	}
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		return fail(req.MemberID, kerr.InvalidSessionTimeout)
	}
	unknown := req.MemberID == ""
	// The group is created by a member without an id; a member with an id
	// in a group that does not exist is unknown.
	g, err := c.lockGroup(req.Group, unknown)
	if err != nil {
		return fail(req.MemberID, err)
	}
	if g == nil {
		return fail(req.MemberID, kerr.UnknownMemberID)
	}
	defer g.mu.Unlock()
	if g.cg != nil {
		if len(g.cg.members) > 0 {
			// A consumer group takes no classic members.
			return fail(req.MemberID, kerr.InconsistentGroupProtocol)
		}
		g.cg, g.subscribed = nil, nil
	}
	if !g.acceptJoiningMember(req.MemberID) {
		if m := g.members[req.MemberID]; m != nil {
			g.removeMemberAndUpdate(m, "group is full")
		}
		return fail("", kerr.GroupMaxSizeReached)
	}
	if unknown {
		g.joinNew(req, ch)
	} else {
		g.joinCurrent(req, ch)
	}
	g.tryCompleteJoin()
	return ch
}

// acceptJoiningMember is Kafka's group.max.size check: only members already
// waiting, or room to spare, in a group that is rebalancing; only members,
// or room, otherwise.
func (g *group) acceptJoiningMember(id string) bool {
	limit := g.c.cfg.MaxGroupSize
	switch g.state {
	case PreparingRebalance:
		m := g.members[id]
		return m != nil && m.joinCh != nil || g.numAwaitingJoin() < limit
	case CompletingRebalance, Stable:
		return g.members[id] != nil || len(g.members) < limit
	}
	return true
}

// joinNew handles a JoinGroup without a member id.
func (g *group) joinNew(req JoinRequest, ch chan JoinResult) {
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		ch <- joinError(req.MemberID, kerr.InconsistentGroupProtocol)
		return
	}
	id := newMemberID(req.ClientID, req.InstanceID)
	switch {
	case req.InstanceID != nil:
		if old, ok := g.static[*req.InstanceID]; ok {
			g.replaceStaticMember(old, id, req, ch)
			return
		}
		g.addMemberAndRebalance(id, req, ch)
	case req.RequireKnownMemberID:
		// KIP-394: the member must come back with this id, so that a client
		// that loses the response does not leave a stranger in the group.
		g.addPending(id, req.SessionTimeout)
		ch <- joinError(id, kerr.MemberIDRequired)
	default:
		g.addMemberAndRebalance(id, req, ch)
	}
}

// joinCurrent handles a JoinGroup of a member with an id.
func (g *group) joinCurrent(req JoinRequest, ch chan JoinResult) {
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		ch <- joinError(req.MemberID, kerr.InconsistentGroupProtocol)
		return
	}
	if _, ok := g.pending[req.MemberID]; ok && req.InstanceID == nil {
		g.addMemberAndRebalance(req.MemberID, req, ch)
		return
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		ch <- joinError(req.MemberID, err)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		g.updateMemberAndRebalance(m, req, ch, "member joining during PreparingRebalance")
	case CompletingRebalance:
		if m.matches(req.Protocols) {
			// It lost the answer to its join: the same one again.
			ch <- g.joinResult(m)
			return
		}
		g.updateMemberAndRebalance(m, req, ch, "member with new metadata joining during CompletingRebalance")
	case Stable:
		// The leader rejoining forces a rebalance, so it can react to
		// changes its metadata does not show (new partitions); a follower
		// with the same metadata just gets the current generation.
		if m.id == g.leader || !m.matches(req.Protocols) {
			g.updateMemberAndRebalance(m, req, ch, "leader or member with new metadata joining a Stable group")
			return
		}
		r := g.joinResult(m)
		r.Members = nil
		ch <- r
	default:
		ch <- joinError(req.MemberID, kerr.UnknownMemberID)
	}
}

// validateMember is Kafka's validateCurrentMember: an instance id must map
// to this member id (else FENCED_INSTANCE_ID, or UNKNOWN_MEMBER_ID when it
// maps to none), and the member must exist.
func (g *group) validateMember(id string, instanceID *string) error {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		if cur != id {
			return kerr.FencedInstanceID
		}
	}
	if g.members[id] == nil {
		return kerr.UnknownMemberID
	}
	return nil
}

func (g *group) joinResult(m *member) JoinResult {
	r := JoinResult{
		MemberID:     m.id,
		Generation:   g.generation,
		ProtocolType: strPtr(g.protocolType),
		Protocol:     strPtr(g.protocol),
		Leader:       g.leader,
	}
	if m.id == g.leader {
		for _, o := range g.sortedMembers() {
			r.Members = append(r.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, Metadata: o.metadataFor(g.protocol)})
		}
	}
	return r
}

func strPtr(s string) *string { return &s }

func (g *group) addMemberAndRebalance(id string, req JoinRequest, ch chan JoinResult) {
	m := &member{
		id:               id,
		instanceID:       req.InstanceID,
		clientID:         req.ClientID,
		clientHost:       req.ClientHost,
		sessionTimeout:   req.SessionTimeout,
		rebalanceTimeout: req.RebalanceTimeout,
		protocolType:     req.ProtocolType,
		protocols:        req.Protocols,
		joinCh:           ch,
		isNew:            true,
	}
	if g.state == PreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true // the initial delay may be extended
	}
	g.add(m)
	// A new member cannot heartbeat until its join completes; bound its wait
	// instead, so a client that gave up does not hold the rebalance.
	g.armHeartbeat(m, newMemberJoinTimeout)
	g.c.logger.Debug("member added", "group", g.id, "member", id, "reason", req.Reason)
	g.maybePrepareRebalance("adding new member " + id)
}

func (g *group) updateMemberAndRebalance(m *member, req JoinRequest, ch chan JoinResult, reason string) {
	g.updateProtocols(m, req.Protocols)
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	if m.joinCh != nil && m.joinCh != ch {
		// A second JoinGroup while the first waits (the client gave up on
		// it, likely on another connection). Kafka forgets the first; we
		// must answer it, or its connection stalls.
		m.joinCh <- joinError(m.id, kerr.RebalanceInProgress)
	}
	m.joinCh = ch
	g.maybePrepareRebalance(reason)
}

// replaceStaticMember gives a static member that rejoined without its id a
// new one (KIP-345): the old id is fenced, and a Stable group whose
// protocol would not change does not rebalance.
func (g *group) replaceStaticMember(oldID, newID string, req JoinRequest, ch chan JoinResult) {
	m := g.members[oldID]
	if m == nil {
		delete(g.static, *req.InstanceID)
		g.addMemberAndRebalance(newID, req, ch)
		return
	}
	oldLeader := g.leader
	if m.joinCh != nil {
		m.joinCh <- joinError(oldID, kerr.FencedInstanceID)
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- SyncResult{Err: kerr.FencedInstanceID}
		m.syncCh = nil
	}
	delete(g.members, oldID)
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	m.id = newID
	g.members[newID] = m
	g.static[*req.InstanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	// The old id's heartbeat timer dies with the re-arm.
	g.armHeartbeat(m, m.sessionTimeout)
	g.updateProtocols(m, req.Protocols)
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	g.c.logger.Info("static member replaced", "group", g.id, "instance_id", *req.InstanceID, "old_member", oldID, "member", newID)

	switch g.state {
	case Stable:
		if g.selectProtocol() == g.protocol {
			r := g.joinResult(m)
			if req.SupportsSkipAssignment {
				// KIP-814: the leader learns it leads, but must not assign:
				// a Stable group would not pass a new assignment on.
				r.SkipAssignment = m.id == g.leader
			} else {
				// Before v9 the old leader id stops the new member from
				// thinking it leads and assigning for nothing.
				r.Leader = oldLeader
				r.Members = nil
			}
			ch <- r
			return
		}
		m.joinCh = ch
		g.maybePrepareRebalance("static member " + newID + " joined with a protocol change")
	case CompletingRebalance:
		// The leader may be assigning for the old id already: rebalance so
		// the new id gets an assignment.
		m.joinCh = ch
		g.prepareRebalance("updating metadata of static member " + newID)
	default: // PreparingRebalance
		m.joinCh = ch
	}
}

// maybePrepareRebalance starts a rebalance unless one is being prepared.
func (g *group) maybePrepareRebalance(reason string) {
	switch g.state {
	case Stable, CompletingRebalance, Empty:
		g.prepareRebalance(reason)
	}
}

// prepareRebalance moves to PreparingRebalance. Members waiting for their
// SyncGroup are told to rejoin. A group leaving Empty waits
// group.initial.rebalance.delay.ms for more members (extended while members
// keep arriving, up to the rebalance timeout); otherwise the join completes
// when every member rejoined or after the rebalance timeout.
func (g *group) prepareRebalance(reason string) {
	if g.state == CompletingRebalance {
		g.resetAndPropagateAssignmentError(kerr.RebalanceInProgress)
	}
	g.stopSyncTimer()
	wasEmpty := g.state == Empty
	g.transition(PreparingRebalance)
	g.c.logger.Info("preparing to rebalance group", "group", g.id, "generation", g.generation, "reason", reason)
	if wasEmpty {
		delay := g.c.cfg.InitialRebalanceDelay
		g.armInitialJoin(delay, max(g.rebalanceTimeout()-delay, 0))
		return
	}
	g.armJoin(g.rebalanceTimeout())
	g.tryCompleteJoin()
}

func (g *group) stopJoinTimer() {
	g.joinSeq++
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	g.initialDelay = false
}

// armInitialJoin is Kafka's InitialDelayedJoin: it never completes early.
func (g *group) armInitialJoin(delay, remaining time.Duration) {
	g.stopJoinTimer()
	g.initialDelay = true
	seq := g.joinSeq
	g.joinTimer = g.c.clock.AfterFunc(delay, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.joinSeq != seq || g.state != PreparingRebalance {
			return
		}
		if g.newMemberAdded && remaining > 0 {
			g.newMemberAdded = false
			next := min(g.c.cfg.InitialRebalanceDelay, remaining)
			g.armInitialJoin(next, max(remaining-delay, 0))
			return
		}
		g.newMemberAdded = false
		g.completeJoin()
	})
}

// armJoin is Kafka's DelayedJoin: the rebalance timeout.
func (g *group) armJoin(d time.Duration) {
	g.stopJoinTimer()
	seq := g.joinSeq
	g.joinTimer = g.c.clock.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.joinSeq != seq || g.state != PreparingRebalance {
			return
		}
		g.completeJoin()
	})
}

// tryCompleteJoin completes the join phase once everyone is in.
func (g *group) tryCompleteJoin() {
	if g.state == PreparingRebalance && !g.initialDelay && g.hasAllMembersJoined() {
		g.completeJoin()
	}
}

// completeJoin is Kafka's onCompleteJoin: dynamic members that did not
// rejoin are removed (static ones stay until their session expires), a
// leader is picked among those who joined, and the next generation starts:
// CompletingRebalance, or Empty when nobody is left.
func (g *group) completeJoin() {
	g.stopJoinTimer()
	for _, m := range g.sortedMembers() {
		if m.joinCh == nil && m.instanceID == nil {
			g.c.logger.Info("removing member that did not rejoin in time", "group", g.id, "member", m.id)
			g.removeMember(m)
		}
	}
	if !g.electJoinedLeader() && len(g.members) > 0 {
		// Only static members that have not rejoined are left: wait for
		// them, or for their sessions to expire.
		g.c.logger.Warn("could not complete rebalance because no members rejoined", "group", g.id)
		g.armJoin(g.rebalanceTimeout())
		return
	}
	g.initNextGeneration()
	if g.state == Empty {
		g.c.logger.Info("group is now empty", "group", g.id, "generation", g.generation)
		g.storeGroup(nil)
		return
	}
	g.c.logger.Info("stabilized group", "group", g.id, "generation", g.generation, "members", len(g.members), "protocol", g.protocol)
	for _, m := range g.sortedMembers() {
		if m.joinCh != nil {
			m.joinCh <- g.joinResult(m)
			m.joinCh = nil
		}
		g.armHeartbeat(m, m.sessionTimeout)
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	g.armSync(g.rebalanceTimeout())
}

// electJoinedLeader keeps the leader if it rejoined, else picks a member
// that did; false if none did.
func (g *group) electJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if l := g.members[g.leader]; l != nil && l.joinCh != nil {
		return true
	}
	for _, m := range g.sortedMembers() {
		if m.joinCh != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

func (g *group) initNextGeneration() {
	g.generation++
	clear(g.pendingSync)
	if len(g.members) > 0 {
		g.protocol = g.selectProtocol()
		g.subscribed = g.computeSubscribed()
		g.transition(CompletingRebalance)
		return
	}
	g.protocol, g.leader, g.subscribed = "", "", nil
	g.transition(Empty)
}

// storeGroup appends the group's metadata record; then, once durable (or
// failed), calls done with the group locked.
func (g *group) storeGroup(done func(err error)) error {
	rec := kv{groupKey(g.id), groupValue(g.protocolType, g.generation, g.protocol, g.leader, g.stateTime)}
	return g.c.st.append(g.c.clock.Now(), []kv{rec}, func(err error) {
		if err != nil {
			g.c.logger.Warn("could not store group metadata", "group", g.id, "err", err)
		}
		if done != nil {
			g.mu.Lock()
			defer g.mu.Unlock()
			done(err)
		}
	})
}

// armHeartbeat (re)starts m's session timer (Kafka's
// completeAndScheduleNextHeartbeatExpiration).
func (g *group) armHeartbeat(m *member, d time.Duration) {
	m.stopHeartbeat()
	seq := m.hbSeq
	m.hbTimer = g.c.clock.AfterFunc(d, func() { g.expireHeartbeat(m, seq) })
}

func (m *member) stopHeartbeat() {
	m.hbSeq++
	if m.hbTimer != nil {
		m.hbTimer.Stop()
		m.hbTimer = nil
	}
}

// expireHeartbeat removes a member whose session timed out. Members
// waiting in a rebalance are exempt (the rebalance timeout handles them),
// except new ones, whose first join is bounded instead.
func (g *group) expireHeartbeat(m *member, seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m.hbSeq != seq || g.members[m.id] != m || g.state == Dead {
		return
	}
	if !m.isNew && (m.joinCh != nil || m.syncCh != nil) {
		return
	}
	g.c.logger.Info("member session expired; removing it from the group", "group", g.id, "member", m.id, "state", g.state.String())
	g.removeMemberAndUpdate(m, "removing member "+m.id+" on heartbeat expiration")
}

// removeMember drops m, answering any request it has waiting.
func (g *group) removeMember(m *member) {
	if m.joinCh != nil {
		m.joinCh <- joinError("", kerr.UnknownMemberID)
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- SyncResult{Err: kerr.UnknownMemberID}
		m.syncCh = nil
	}
	g.remove(m.id)
}

// removeMemberAndUpdate is Kafka's removeMemberAndUpdateGroup.
func (g *group) removeMemberAndUpdate(m *member, reason string) {
	g.removeMember(m)
	switch g.state {
	case Stable, CompletingRebalance:
		g.maybePrepareRebalance(reason)
	case PreparingRebalance:
		g.tryCompleteJoin()
	}
}

// addPending remembers an id handed out with MEMBER_ID_REQUIRED for a
// session timeout.
func (g *group) addPending(id string, session time.Duration) {
	p := &pendingMember{}
	g.pending[id] = p
	p.timer = g.c.clock.AfterFunc(session, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.pending[id] != p {
			return
		}
		delete(g.pending, id)
		g.tryCompleteJoin()
	})
}

func (g *group) stopSyncTimer() {
	g.syncSeq++
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
}

// armSync bounds how long members may take to send their SyncGroup after
// the join completed: those that did not are removed and the group
// rebalances (Kafka's pending sync expiration, KAFKA-13766).
func (g *group) armSync(d time.Duration) {
	g.stopSyncTimer()
	seq, gen := g.syncSeq, g.generation
	g.syncTimer = g.c.clock.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.syncSeq != seq || g.generation != gen || len(g.pendingSync) == 0 {
			return
		}
		if g.state != CompletingRebalance && g.state != Stable {
			return
		}
		for _, m := range g.sortedMembers() {
			if g.pendingSync[m.id] {
				g.c.logger.Info("removing member that did not sync in time", "group", g.id, "member", m.id)
				g.removeMember(m)
			}
		}
		clear(g.pendingSync)
		g.prepareRebalance("removing members on pending sync expiration")
	})
}

// resetAndPropagateAssignmentError fails every waiting SyncGroup.
func (g *group) resetAndPropagateAssignmentError(err error) {
	for _, m := range g.members {
		m.assignment = nil
	}
	g.propagateAssignment(err)
}

// propagateAssignment answers every waiting SyncGroup and restarts its
// session timer.
func (g *group) propagateAssignment(err error) {
	for _, m := range g.sortedMembers() {
		if m.syncCh == nil {
			continue
		}
		r := SyncResult{Err: err, Assignment: m.assignment}
		if err == nil {
			r.ProtocolType, r.Protocol = strPtr(g.protocolType), strPtr(g.protocol)
		}
		m.syncCh <- r
		m.syncCh = nil
		g.armHeartbeat(m, m.sessionTimeout)
	}
}

// unload answers everything waiting with NOT_COORDINATOR and stops the
// timers (Close).
func (g *group) unload() {
	g.stopConsumerTimers()
	g.stopJoinTimer()
	g.stopSyncTimer()
	for id := range g.pending {
		g.removePending(id)
	}
	for _, m := range g.members {
		if m.joinCh != nil {
			m.joinCh <- joinError(m.id, kerr.NotCoordinator)
			m.joinCh = nil
		}
		if m.syncCh != nil {
			m.syncCh <- SyncResult{Err: kerr.NotCoordinator}
			m.syncCh = nil
		}
		m.stopHeartbeat()
	}
	g.state = Dead
}

// Sync handles a SyncGroup: the leader's assignment is stored and handed
// to every member; followers wait for it. The answer arrives on the
// returned channel.
func (c *Coordinator) Sync(req SyncRequest) <-chan SyncResult {
	ch := make(chan SyncResult, 1)
	fail := func(err error) <-chan SyncResult {
		ch <- SyncResult{Err: err}
		return ch
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	if err := c.usable(); err != nil {
		if errors.Is(err, kerr.CoordinatorLoadInProgress) {
			// The rebalance's state is gone with the restart: rejoin.
			err = kerr.RebalanceInProgress
		}
		return fail(err)
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return fail(err)
	}
	if g == nil {
		return fail(kerr.UnknownMemberID)
	}
	defer g.mu.Unlock()
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return fail(err)
	}
	if req.Generation != g.generation {
		return fail(kerr.IllegalGeneration)
	}
	if req.ProtocolType != nil && *req.ProtocolType != g.protocolType || req.Protocol != nil && *req.Protocol != g.protocol {
		return fail(kerr.InconsistentGroupProtocol)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		return fail(kerr.RebalanceInProgress)
	case CompletingRebalance:
		if m.syncCh != nil && m.syncCh != ch {
			m.syncCh <- SyncResult{Err: kerr.RebalanceInProgress}
		}
		m.syncCh = ch
		delete(g.pendingSync, m.id)
		if m.id == g.leader {
			g.leaderSync(req.Assignments)
		}
		return ch
	case Stable:
		delete(g.pendingSync, m.id)
		ch <- SyncResult{ProtocolType: strPtr(g.protocolType), Protocol: strPtr(g.protocol), Assignment: m.assignment}
		g.armHeartbeat(m, m.sessionTimeout)
		return ch
	}
	return fail(kerr.UnknownMemberID)
}

// leaderSync stores the group and, once that is durable, hands out the
// assignment and makes the group Stable. Members the leader left out get
// an empty assignment.
func (g *group) leaderSync(assignments []Assignment) {
	byMember := make(map[string][]byte, len(assignments))
	for _, a := range assignments {
		byMember[a.MemberID] = a.Assignment
	}
	gen := g.generation
	g.c.logger.Info("assignment received from leader", "group", g.id, "generation", gen, "members", len(g.members))
	failed := func(err error) {
		g.resetAndPropagateAssignmentError(storeError(err, false))
		g.maybePrepareRebalance("error storing the group's assignment")
	}
	err := g.storeGroup(func(err error) {
		// Another member may have joined while we waited.
		if g.state != CompletingRebalance || g.generation != gen {
			return
		}
		if err != nil {
			failed(err)
			return
		}
		for _, m := range g.members {
			m.assignment = byMember[m.id]
		}
		g.propagateAssignment(nil)
		g.transition(Stable)
	})
	if err != nil {
		failed(err)
	}
}

// Heartbeat handles a Heartbeat.
func (c *Coordinator) Heartbeat(req HeartbeatRequest) error {
	if req.Group == "" {
		return kerr.InvalidGroupID
	}
	if err := c.usable(); err != nil {
		if errors.Is(err, kerr.CoordinatorLoadInProgress) {
			return nil // Kafka answers blindly while loading
		}
		return err
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return err
	}
	if g == nil {
		return kerr.UnknownMemberID
	}
	defer g.mu.Unlock()
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		g.armHeartbeat(m, m.sessionTimeout)
		return kerr.RebalanceInProgress
	case CompletingRebalance, Stable:
		// Members may heartbeat between their join and sync answers.
		g.armHeartbeat(m, m.sessionTimeout)
		return nil
	}
	return kerr.UnknownMemberID
}

// Leave handles a LeaveGroup: err is for the whole request, errs has one
// entry per member.
func (c *Coordinator) Leave(groupID string, members []LeaveMember) (err error, errs []error) {
	if groupID == "" {
		return kerr.InvalidGroupID, nil
	}
	if err := c.usable(); err != nil {
		return err, nil
	}
	errs = make([]error, len(members))
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return err, nil
	}
	if g == nil {
		for i := range errs {
			errs[i] = kerr.UnknownMemberID
		}
		return nil, errs
	}
	defer g.mu.Unlock()
	for i, lm := range members {
		switch {
		case lm.MemberID == "":
			// An administrator removing a static member by instance id.
			id, ok := "", false
			if lm.InstanceID != nil {
				id, ok = g.static[*lm.InstanceID]
			}
			if !ok {
				errs[i] = kerr.UnknownMemberID
				continue
			}
			g.c.logger.Info("member leaving", "group", g.id, "member", id, "instance_id", *lm.InstanceID, "reason", lm.Reason)
			g.removeMemberAndUpdate(g.members[id], "removing member "+id+" on LeaveGroup")
		case g.pending[lm.MemberID] != nil:
			g.removePending(lm.MemberID)
			g.tryCompleteJoin()
		default:
			if err := g.validateMember(lm.MemberID, lm.InstanceID); err != nil {
				errs[i] = err
				continue
			}
			g.c.logger.Info("member leaving", "group", g.id, "member", lm.MemberID, "reason", lm.Reason)
			g.removeMemberAndUpdate(g.members[lm.MemberID], "removing member "+lm.MemberID+" on LeaveGroup")
		}
	}
	return nil, errs
}
