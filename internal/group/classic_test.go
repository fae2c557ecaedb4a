package group

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestMemberIDRequired(t *testing.T) {
	e := newEnv(t)
	req := joinReq("g", "", "t")
	r := recv(t, e.c.Join(req))
	wantErr(t, "v4 join without id", r.Err, kerr.MemberIDRequired)
	if !strings.HasPrefix(r.MemberID, "client-") || len(r.MemberID) != len("client-")+36 {
		t.Fatalf("member id %q is not <client id>-<uuid>", r.MemberID)
	}
	if r.Generation != -1 {
		t.Fatalf("generation %d on MEMBER_ID_REQUIRED", r.Generation)
	}
	if s := e.state("g"); s != Empty {
		t.Fatalf("group is %s after MEMBER_ID_REQUIRED", s)
	}

	// An id nobody handed out is unknown.
	bad := req
	bad.MemberID = "client-made-up"
	wantErr(t, "join with a made-up id", recv(t, e.c.Join(bad)).Err, kerr.UnknownMemberID)

	req.MemberID = r.MemberID
	ch := e.c.Join(req)
	e.clock.Advance(0)
	jr := recv(t, ch)
	wantErr(t, "join with the id", jr.Err, nil)
	if jr.MemberID != r.MemberID || jr.Leader != r.MemberID || jr.Generation != 1 || *jr.Protocol != "range" || *jr.ProtocolType != "consumer" {
		t.Fatalf("join result %+v", jr)
	}
	if len(jr.Members) != 1 || string(jr.Members[0].Metadata) != string(consumerMeta("t")) {
		t.Fatalf("leader got members %+v", jr.Members)
	}

	// Before v4 a member without an id joins at once.
	old := joinReq("g0", "", "t")
	old.RequireKnownMemberID = false
	ch = e.c.Join(old)
	e.clock.Advance(0)
	if r := recv(t, ch); r.Err != nil || r.MemberID == "" || r.Generation != 1 {
		t.Fatalf("v3 join: %+v", r)
	}
}

func TestPendingMemberExpires(t *testing.T) {
	e := newEnv(t)
	ids, gen := e.stableGroup("g", 1, "t")
	// A second member gets an id but never comes back: the rebalance its
	// arrival would cause does not wait for it past its session timeout.
	r := recv(t, e.c.Join(joinReq("g", "", "t")))
	wantErr(t, "join", r.Err, kerr.MemberIDRequired)
	// The leader rejoins (forcing a rebalance); the join waits for the
	// pending member.
	ch := e.c.Join(joinReq("g", ids[0], "t"))
	noAnswer(t, ch, "join waiting for the pending member")
	e.clock.Advance(10 * time.Second)
	jr := recv(t, ch)
	if jr.Err != nil || jr.Generation != gen+1 || len(jr.Members) != 1 {
		t.Fatalf("join after the pending member expired: %+v", jr)
	}
}

func TestInitialRebalanceDelay(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.InitialRebalanceDelay = 3 * time.Second })
	ch1, id1 := e.joinNew(joinReq("g", "", "t"))
	e.clock.Advance(2 * time.Second)
	noAnswer(t, ch1, "join during the initial delay")
	ch2, id2 := e.joinNew(joinReq("g", "", "t"))
	// The delay ends at 3s, but a member arrived: extended by another 3s.
	e.clock.Advance(1 * time.Second)
	noAnswer(t, ch1, "join during the extended delay")
	e.clock.Advance(3 * time.Second)
	r1, r2 := recv(t, ch1), recv(t, ch2)
	if r1.Err != nil || r2.Err != nil || r1.Generation != 1 || r2.Generation != 1 {
		t.Fatalf("joins: %+v, %+v", r1, r2)
	}
	if r1.Leader != id1 || len(r1.Members) != 2 || len(r2.Members) != 0 || r2.MemberID != id2 {
		t.Fatalf("leader %s (want %s), %d and %d members", r1.Leader, id1, len(r1.Members), len(r2.Members))
	}
}

func TestSyncDistributesAssignment(t *testing.T) {
	e := newEnv(t)
	ch1, id1 := e.joinNew(joinReq("g", "", "t"))
	ch2, id2 := e.joinNew(joinReq("g", "", "t"))
	e.clock.Advance(0)
	r1, r2 := recv(t, ch1), recv(t, ch2)
	leader, follower := id1, id2
	if r2.Leader == id2 {
		leader, follower = id2, id1
	}
	if r1.Leader != r2.Leader || r1.Generation != 1 {
		t.Fatalf("joins: %+v, %+v", r1, r2)
	}
	if e.state("g") != CompletingRebalance {
		t.Fatalf("state %s after the join", e.state("g"))
	}
	// The follower waits for the leader.
	fch := e.c.Sync(SyncRequest{Group: "g", Generation: 1, MemberID: follower})
	noAnswer(t, fch, "follower sync")
	// Heartbeats are fine between join and sync; commits are not.
	wantErr(t, "heartbeat in CompletingRebalance", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: 1, MemberID: follower}), nil)
	res := e.commit(CommitRequest{Group: "g", Generation: 1, MemberID: follower, RetentionTime: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 1, Timestamp: -1}}}}})
	wantErr(t, "commit in CompletingRebalance", res.Errs[0][0], kerr.RebalanceInProgress)

	lch := e.c.Sync(SyncRequest{Group: "g", Generation: 1, MemberID: leader, Assignments: []Assignment{{MemberID: follower, Assignment: []byte("f")}}})
	lr, fr := recv(t, lch), recv(t, fch)
	e.waitState("g", Stable)
	if lr.Err != nil || fr.Err != nil || string(fr.Assignment) != "f" || len(lr.Assignment) != 0 || *fr.Protocol != "range" {
		t.Fatalf("syncs: leader %+v, follower %+v", lr, fr)
	}
	if e.state("g") != Stable {
		t.Fatalf("state %s after the syncs", e.state("g"))
	}
	// In Stable, a sync just returns the assignment; a follower rejoining
	// with the same metadata gets the generation at once.
	if r := recv(t, e.c.Sync(SyncRequest{Group: "g", Generation: 1, MemberID: follower})); r.Err != nil || string(r.Assignment) != "f" {
		t.Fatalf("sync in Stable: %+v", r)
	}
	if r := recv(t, e.c.Join(joinReq("g", follower, "t"))); r.Err != nil || r.Generation != 1 || len(r.Members) != 0 {
		t.Fatalf("follower rejoin in Stable: %+v", r)
	}
	if e.state("g") != Stable {
		t.Fatalf("a follower's unchanged rejoin rebalanced the group: %s", e.state("g"))
	}
	// v5 checks.
	other := "roundrobin"
	wantErr(t, "sync with another protocol", recv(t, e.c.Sync(SyncRequest{Group: "g", Generation: 1, MemberID: follower, Protocol: &other})).Err, kerr.InconsistentGroupProtocol)
}

func TestGroupErrors(t *testing.T) {
	e := newEnv(t)
	ids, gen := e.stableGroup("g", 2, "t")
	leader, follower := ids[0], ids[1]

	short := joinReq("g", "", "t")
	short.SessionTimeout = time.Second
	wantErr(t, "session timeout below the minimum", recv(t, e.c.Join(short)).Err, kerr.InvalidSessionTimeout)
	long := joinReq("g", "", "t")
	long.SessionTimeout = time.Hour
	wantErr(t, "session timeout above the maximum", recv(t, e.c.Join(long)).Err, kerr.InvalidSessionTimeout)

	other := joinReq("g", "", "t")
	other.ProtocolType = "connect"
	wantErr(t, "another protocol type", recv(t, e.c.Join(other)).Err, kerr.InconsistentGroupProtocol)
	other = joinReq("g", "", "t")
	other.Protocols = []Protocol{{Name: "sticky"}}
	wantErr(t, "no common protocol", recv(t, e.c.Join(other)).Err, kerr.InconsistentGroupProtocol)
	none := joinReq("fresh", "", "t")
	none.Protocols = nil
	wantErr(t, "no protocols", recv(t, e.c.Join(none)).Err, kerr.InconsistentGroupProtocol)
	wantErr(t, "empty group id", recv(t, e.c.Join(joinReq("", "", "t"))).Err, kerr.InvalidGroupID)

	wantErr(t, "heartbeat of an unknown member", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: "nobody"}), kerr.UnknownMemberID)
	wantErr(t, "heartbeat in an unknown group", e.c.Heartbeat(HeartbeatRequest{Group: "nogroup", Generation: gen, MemberID: leader}), kerr.UnknownMemberID)
	wantErr(t, "heartbeat of another generation", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen - 1, MemberID: leader}), kerr.IllegalGeneration)
	wantErr(t, "heartbeat", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: follower}), nil)
	wantErr(t, "sync of another generation", recv(t, e.c.Sync(SyncRequest{Group: "g", Generation: gen + 1, MemberID: leader})).Err, kerr.IllegalGeneration)
	wantErr(t, "sync of an unknown member", recv(t, e.c.Sync(SyncRequest{Group: "g", Generation: gen, MemberID: "nobody"})).Err, kerr.UnknownMemberID)
	wantErr(t, "join of an unknown member", recv(t, e.c.Join(joinReq("g", "nobody", "t"))).Err, kerr.UnknownMemberID)
	c := CommitRequest{Group: "g", Generation: gen + 1, MemberID: leader, RetentionTime: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 5, Timestamp: -1}}}}}
	wantErr(t, "commit of another generation", e.commit(c).Errs[0][0], kerr.IllegalGeneration)
	c.Generation, c.MemberID = gen, "nobody"
	wantErr(t, "commit of an unknown member", e.commit(c).Errs[0][0], kerr.UnknownMemberID)
	c.Generation, c.MemberID = -1, ""
	wantErr(t, "simple commit to a group with members", e.commit(c).Errs[0][0], kerr.UnknownMemberID)

	// The leader rejoins: a rebalance. Until it completes, heartbeats and
	// syncs say REBALANCE_IN_PROGRESS; commits still work.
	jch := e.c.Join(joinReq("g", leader, "t"))
	noAnswer(t, jch, "leader rejoin")
	if e.state("g") != PreparingRebalance {
		t.Fatalf("state %s after the leader rejoined", e.state("g"))
	}
	wantErr(t, "heartbeat while preparing", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: follower}), kerr.RebalanceInProgress)
	wantErr(t, "sync while preparing", recv(t, e.c.Sync(SyncRequest{Group: "g", Generation: gen, MemberID: follower})).Err, kerr.RebalanceInProgress)
	c.Generation, c.MemberID = gen, follower
	wantErr(t, "commit while preparing", e.commit(c).Errs[0][0], nil)
	fch := e.c.Join(joinReq("g", follower, "t"))
	if r := recv(t, jch); r.Err != nil || r.Generation != gen+1 || len(r.Members) != 2 {
		t.Fatalf("leader's join: %+v", r)
	}
	if r := recv(t, fch); r.Err != nil || r.Generation != gen+1 {
		t.Fatalf("follower's join: %+v", r)
	}
}

func TestSessionExpiryRebalances(t *testing.T) {
	e := newEnv(t)
	ids, gen := e.stableGroup("g", 2, "t")
	live, dead := ids[0], ids[1]
	// Only one member heartbeats.
	for range 3 {
		e.clock.Advance(3 * time.Second)
		wantErr(t, "heartbeat", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: live}), nil)
	}
	e.clock.Advance(2 * time.Second) // 11s: the other's session (10s) is over
	if e.state("g") != PreparingRebalance {
		t.Fatalf("state %s after a session expired", e.state("g"))
	}
	wantErr(t, "heartbeat after the expiry", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: live}), kerr.RebalanceInProgress)
	wantErr(t, "heartbeat of the expired member", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: dead}), kerr.UnknownMemberID)
	r := recv(t, e.c.Join(joinReq("g", live, "t")))
	if r.Err != nil || r.Generation != gen+1 || len(r.Members) != 1 || r.Members[0].MemberID != live {
		t.Fatalf("rejoin: %+v", r)
	}
	// Alone and silent: the group empties.
	recv(t, e.c.Sync(SyncRequest{Group: "g", Generation: gen + 1, MemberID: live}))
	e.waitState("g", Stable)
	e.clock.Advance(11 * time.Second)
	if s := e.state("g"); s != Empty {
		t.Fatalf("state %s after the last member expired", s)
	}
}

func TestRebalanceTimeoutRemovesLaggards(t *testing.T) {
	e := newEnv(t)
	ids, gen := e.stableGroup("g", 3, "t")
	// The leader and one follower rejoin; the other follower never does,
	// though it keeps heartbeating.
	ch0 := e.c.Join(joinReq("g", ids[0], "t"))
	ch1 := e.c.Join(joinReq("g", ids[1], "t"))
	for range 9 {
		e.clock.Advance(3 * time.Second)
		e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: ids[2]})
		e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: ids[0]})
	}
	noAnswer(t, ch0, "join before the rebalance timeout")
	e.clock.Advance(3 * time.Second) // 30s: the rebalance timeout
	r0, r1 := recv(t, ch0), recv(t, ch1)
	if r0.Err != nil || r1.Err != nil || r0.Generation != gen+1 || len(r0.Members) != 2 {
		t.Fatalf("joins after the timeout: %+v, %+v", r0, r1)
	}
	wantErr(t, "heartbeat of the laggard", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: ids[2]}), kerr.UnknownMemberID)

	// Members that join but never sync are removed after the rebalance
	// timeout too.
	sch := e.c.Sync(SyncRequest{Group: "g", Generation: gen + 1, MemberID: ids[1]})
	noAnswer(t, sch, "follower sync without the leader")
	e.clock.Advance(30 * time.Second)
	wantErr(t, "follower sync after the leader never synced", recv(t, sch).Err, kerr.RebalanceInProgress)
	wantErr(t, "leader after the sync timeout", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen + 1, MemberID: ids[0]}), kerr.UnknownMemberID)
}

func TestStaticMemberReplacement(t *testing.T) {
	e := newEnv(t)
	inst := func(id string) *string { return &id }
	static := func(member, instance string) JoinRequest {
		r := joinReq("g", member, "t")
		r.InstanceID = inst(instance)
		r.SupportsSkipAssignment = true
		return r
	}
	// Static members join without MEMBER_ID_REQUIRED.
	ch1 := e.c.Join(static("", "i1"))
	ch2 := e.c.Join(static("", "i2"))
	e.clock.Advance(0)
	r1, r2 := recv(t, ch1), recv(t, ch2)
	if r1.Err != nil || r2.Err != nil || !strings.HasPrefix(r1.MemberID, "i1-") {
		t.Fatalf("static joins: %+v, %+v", r1, r2)
	}
	leader := r1.Leader
	lr, other := r1, r2
	if leader == r2.MemberID {
		lr, other = r2, r1
	}
	s1 := e.c.Sync(SyncRequest{Group: "g", Generation: 1, MemberID: lr.MemberID, InstanceID: inst(instanceOf(lr.MemberID)), Assignments: []Assignment{{MemberID: lr.MemberID, Assignment: []byte("L")}, {MemberID: other.MemberID, Assignment: []byte("O")}}})
	s2 := e.c.Sync(SyncRequest{Group: "g", Generation: 1, MemberID: other.MemberID, InstanceID: inst(instanceOf(other.MemberID))})
	recv(t, s1)
	recv(t, s2)
	e.waitState("g", Stable)

	// The follower restarts: it rejoins with its instance id and no member
	// id. It gets a new id at once, the group does not rebalance, and the
	// old id is fenced.
	oi := instanceOf(other.MemberID)
	r := recv(t, e.c.Join(static("", oi)))
	if r.Err != nil || r.MemberID == other.MemberID || r.Generation != 1 || r.SkipAssignment {
		t.Fatalf("static rejoin: %+v", r)
	}
	if e.state("g") != Stable {
		t.Fatalf("state %s after a static member came back", e.state("g"))
	}
	wantErr(t, "old id's heartbeat", e.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: 1, MemberID: other.MemberID, InstanceID: inst(oi)}), kerr.FencedInstanceID)
	if sr := recv(t, e.c.Sync(SyncRequest{Group: "g", Generation: 1, MemberID: r.MemberID, InstanceID: inst(oi)})); sr.Err != nil || string(sr.Assignment) != "O" {
		t.Fatalf("new id's sync: %+v (the assignment should carry over)", sr)
	}

	// The leader restarts (v9): it is told it leads, and to skip assigning.
	li := instanceOf(lr.MemberID)
	r = recv(t, e.c.Join(static("", li)))
	if r.Err != nil || r.Leader != r.MemberID || !r.SkipAssignment || len(r.Members) != 2 {
		t.Fatalf("static leader rejoin (v9): %+v", r)
	}
	// Before v9 it is given the old leader id, so it does not assign.
	old := static("", li)
	old.SupportsSkipAssignment = false
	r2b := recv(t, e.c.Join(old))
	if r2b.Err != nil || r2b.Leader != r.MemberID || r2b.MemberID == r.MemberID || len(r2b.Members) != 0 {
		t.Fatalf("static leader rejoin (v8): %+v", r2b)
	}
	if e.state("g") != Stable {
		t.Fatalf("state %s after the static leader came back", e.state("g"))
	}

	// A static member's join parked in a rebalance is fenced by its
	// replacement.
	follower := recv(t, e.c.Join(static("", oi))).MemberID
	changed := static(follower, oi)
	changed.Protocols = []Protocol{{Name: "range", Metadata: consumerMeta("t", "u")}}
	fch := e.c.Join(changed) // new metadata: a rebalance, waiting for the leader
	noAnswer(t, fch, "join of a static member with new metadata")
	// Its replacement arrives before the rebalance completes:
	repl := e.c.Join(static("", oi))
	wantErr(t, "fenced parked join", recv(t, fch).Err, kerr.FencedInstanceID)
	jch := e.c.Join(static(r2b.MemberID, li))
	rj, rr := recv(t, jch), recv(t, repl)
	if rj.Err != nil || rr.Err != nil || rj.Generation != 2 || rr.Generation != 2 {
		t.Fatalf("after the replacement: leader %+v, replacement %+v", rj, rr)
	}

	// LeaveGroup by instance id alone (an administrator).
	err, errs := e.c.Leave("g", []LeaveMember{{InstanceID: inst(oi)}, {InstanceID: inst("nobody")}})
	if err != nil || errs[0] != nil || errs[1] != kerr.UnknownMemberID {
		t.Fatalf("leave by instance id: %v, %v", err, errs)
	}
	if e.state("g") != PreparingRebalance {
		t.Fatalf("state %s after a static member was removed", e.state("g"))
	}
}

func instanceOf(memberID string) string { return memberID[:2] }

func TestLeaveGroup(t *testing.T) {
	e := newEnv(t)
	ids, gen := e.stableGroup("g", 2, "t")
	err, errs := e.c.Leave("g", []LeaveMember{{MemberID: ids[1]}, {MemberID: "nobody"}})
	if err != nil || errs[0] != nil || errs[1] != kerr.UnknownMemberID {
		t.Fatalf("leave: %v, %v", err, errs)
	}
	// The rebalance completes as soon as the remaining member rejoins.
	if r := recv(t, e.c.Join(joinReq("g", ids[0], "t"))); r.Err != nil || r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("rejoin after a leave: %+v", r)
	}
	recv(t, e.c.Sync(SyncRequest{Group: "g", Generation: gen + 1, MemberID: ids[0]}))
	e.waitState("g", Stable)
	if err, errs := e.c.Leave("g", []LeaveMember{{MemberID: ids[0]}}); err != nil || errs[0] != nil {
		t.Fatalf("last leave: %v %v", err, errs)
	}
	// The last member left: the next join phase completes at once, Empty.
	if s := e.state("g"); s != Empty {
		t.Fatalf("state %s after everyone left", s)
	}
	if err, errs := e.c.Leave("nogroup", []LeaveMember{{MemberID: "x"}}); err != nil || errs[0] != kerr.UnknownMemberID {
		t.Fatalf("leave of an unknown group: %v %v", err, errs)
	}
}

func TestProtocolSelection(t *testing.T) {
	e := newEnv(t)
	mk := func(names ...string) JoinRequest {
		r := joinReq("g", "", "t")
		r.Protocols = nil
		for _, n := range names {
			r.Protocols = append(r.Protocols, Protocol{Name: n, Metadata: consumerMeta("t")})
		}
		return r
	}
	// Everyone supports range and sticky; two prefer sticky.
	ch1, _ := e.joinNew(mk("range", "sticky"))
	ch2, _ := e.joinNew(mk("sticky", "range", "roundrobin"))
	ch3, _ := e.joinNew(mk("sticky", "range"))
	e.clock.Advance(0)
	for _, ch := range []<-chan JoinResult{ch1, ch2, ch3} {
		if r := recv(t, ch); r.Err != nil || *r.Protocol != "sticky" {
			t.Fatalf("join: %+v", r)
		}
	}
}

func TestCloseAnswersParkedRequests(t *testing.T) {
	e := newEnv(t)
	ids, _ := e.stableGroup("g", 2, "t")
	ch := e.c.Join(joinReq("g", ids[0], "t"))
	noAnswer(t, ch, "parked join")
	e.c.Close()
	wantErr(t, "parked join at close", recv(t, ch).Err, kerr.NotCoordinator)
	wantErr(t, "join after close", recv(t, e.c.Join(joinReq("g", "", "t"))).Err, kerr.CoordinatorNotAvailable)
}
