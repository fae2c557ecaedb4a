package group

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func newConsumerEnv(t *testing.T) *testEnv {
	return newEnv(t, func(c *Config) {
		c.PartitionCount = func(topic string) int32 {
			switch topic {
			case "t":
				return 4
			case "u":
				return 2
			}
			return 0
		}
		c.TopicNames = func() []string { return []string{"t", "u"} }
	})
}

func hb(group, member string, epoch int32, owned TopicPartitions, topics ...string) ConsumerHeartbeatRequest {
	return ConsumerHeartbeatRequest{Group: group, MemberID: member, MemberEpoch: epoch, RebalanceTimeout: 10 * time.Second, SubscribedTopics: topics, Owned: owned}
}

func count(tps TopicPartitions) int {
	n := 0
	for _, ps := range tps {
		n += len(ps)
	}
	return n
}

func TestConsumerGroupReconcile(t *testing.T) {
	e := newConsumerEnv(t)
	r := e.c.ConsumerHeartbeat(hb("g", "a", 0, nil, "t"))
	wantErr(t, "join a", r.Err, nil)
	if r.MemberEpoch != 1 || count(r.Assignment) != 4 {
		t.Fatalf("a: epoch %d assignment %v", r.MemberEpoch, r.Assignment)
	}
	aOwned := r.Assignment
	// b joins: the group epoch moves to 2; b gets nothing until a revokes.
	rb := e.c.ConsumerHeartbeat(hb("g", "b", 0, nil, "t"))
	wantErr(t, "join b", rb.Err, nil)
	if rb.MemberEpoch != 2 || count(rb.Assignment) != 0 {
		t.Fatalf("b: epoch %d assignment %v", rb.MemberEpoch, rb.Assignment)
	}
	// a is told to revoke two partitions, keeping its epoch.
	ra := e.c.ConsumerHeartbeat(hb("g", "a", 1, aOwned))
	wantErr(t, "a heartbeat", ra.Err, nil)
	if ra.MemberEpoch != 1 || count(ra.Assignment) != 2 {
		t.Fatalf("a: epoch %d assignment %v", ra.MemberEpoch, ra.Assignment)
	}
	// b still waits: a has not acknowledged.
	rb = e.c.ConsumerHeartbeat(hb("g", "b", 2, TopicPartitions{}))
	if count(rb.Assignment) != 0 {
		t.Fatalf("b got %v before a revoked", rb.Assignment)
	}
	// A commit of a's with its epoch is fine; with a newer one stale.
	res := e.commit(CommitRequest{Group: "g", MemberID: "a", Generation: 1, RetentionTime: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: ra.Assignment["t"][0], Offset: 5}}}}})
	allNil(t, "commit", res)
	res = e.commit(CommitRequest{Group: "g", MemberID: "a", Generation: 7, RetentionTime: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 5}}}}})
	wantErr(t, "stale commit", res.Errs[0][0], kerr.StaleMemberEpoch)
	// a revokes: moves to epoch 2; b then gets the released partitions.
	ra = e.c.ConsumerHeartbeat(hb("g", "a", 1, ra.Assignment))
	if ra.MemberEpoch != 2 || count(ra.Assignment) != 2 {
		t.Fatalf("a: epoch %d assignment %v", ra.MemberEpoch, ra.Assignment)
	}
	rb = e.c.ConsumerHeartbeat(hb("g", "b", 2, TopicPartitions{}))
	if count(rb.Assignment) != 2 {
		t.Fatalf("b: assignment %v", rb.Assignment)
	}
	for _, p := range rb.Assignment["t"] {
		if slices.Contains(ra.Assignment["t"], p) {
			t.Fatalf("partition %d assigned twice", p)
		}
	}
	d := e.c.ConsumerDescribe([]string{"g"})[0]
	if d.Err != nil || d.State != consumerStable || d.Epoch != 2 || len(d.Members) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	// Epoch checks.
	wantErr(t, "newer epoch", e.c.ConsumerHeartbeat(hb("g", "a", 5, nil)).Err, kerr.FencedMemberEpoch)
	wantErr(t, "unknown member", e.c.ConsumerHeartbeat(hb("g", "z", 1, nil)).Err, kerr.UnknownMemberID)
	// A classic member cannot join.
	jr := recv(t, e.c.Join(joinReq("g", "", "t")))
	wantErr(t, "classic join", jr.Err, kerr.InconsistentGroupProtocol)
	// b's session expires: a gets everything.
	e.clock.Advance(20 * time.Second)
	ra = e.c.ConsumerHeartbeat(hb("g", "a", 2, ra.Assignment))
	wantErr(t, "a heartbeat", ra.Err, nil)
	e.clock.Advance(44 * time.Second)
	ra = e.c.ConsumerHeartbeat(hb("g", "a", 2, ra.Assignment))
	if ra.Err != nil || ra.MemberEpoch != 3 || count(ra.Assignment) != 4 {
		t.Fatalf("after b expired: %+v", ra)
	}
	// a leaves: the group is Empty.
	if r := e.c.ConsumerHeartbeat(hb("g", "a", -1, nil)); r.Err != nil || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	if l, _ := e.c.List(nil, []string{"consumer"}); len(l) != 1 || l[0].State != consumerEmpty {
		t.Fatalf("list: %+v", l)
	}
}

func TestConsumerGroupAssignors(t *testing.T) {
	subs := map[string][]string{"a": {"t", "u"}, "b": {"t"}, "c": {"t", "u"}}
	counts := map[string]int32{"t": 6, "u": 3}
	for name, out := range map[string]map[string]map[tp]bool{
		"uniform": assignUniform([]string{"a", "b", "c"}, subs, counts, nil),
		"range":   assignRange([]string{"a", "b", "c"}, subs, counts),
	} {
		seen := map[tp]bool{}
		for id, s := range out {
			for p := range s {
				if seen[p] {
					t.Fatalf("%s: %v assigned twice", name, p)
				}
				if !slices.Contains(subs[id], p.topic) {
					t.Fatalf("%s: %v to %s, not subscribed", name, p, id)
				}
				seen[p] = true
			}
		}
		if len(seen) != 9 {
			t.Fatalf("%s: %d partitions assigned, want 9", name, len(seen))
		}
		if name == "uniform" {
			for id, s := range out {
				if len(s) != 3 {
					t.Errorf("uniform: %s has %d partitions", id, len(s))
				}
			}
		}
	}
	// Sticky: a new member takes partitions only from the others.
	prev := assignUniform([]string{"a", "b"}, map[string][]string{"a": {"t"}, "b": {"t"}}, map[string]int32{"t": 6}, nil)
	next := assignUniform([]string{"a", "b", "c"}, map[string][]string{"a": {"t"}, "b": {"t"}, "c": {"t"}}, map[string]int32{"t": 6}, prev)
	for _, id := range []string{"a", "b"} {
		for p := range next[id] {
			if !prev[id][p] {
				t.Errorf("%s gained %v", id, p)
			}
		}
	}
}

func TestConsumerGroupStaticAndRegex(t *testing.T) {
	e := newConsumerEnv(t)
	inst := "i1"
	req := hb("g", "a", 0, nil)
	req.InstanceID = &inst
	re := "t|u"
	req.SubscribedRegex = &re
	r := e.c.ConsumerHeartbeat(req)
	if r.Err != nil || count(r.Assignment) != 6 {
		t.Fatalf("join: %+v", r)
	}
	// Another member cannot take the instance id while a holds it.
	req2 := hb("g", "b", 0, nil, "t")
	req2.InstanceID = &inst
	wantErr(t, "instance in use", e.c.ConsumerHeartbeat(req2).Err, kerr.UnreleasedInstanceID)
	// A static leave keeps the assignment; the rejoin gets it back.
	leave := hb("g", "a", -2, nil)
	leave.InstanceID = &inst
	if r := e.c.ConsumerHeartbeat(leave); r.Err != nil || r.MemberEpoch != -2 {
		t.Fatalf("static leave: %+v", r)
	}
	r = e.c.ConsumerHeartbeat(req2)
	if r.Err != nil || r.MemberID != "b" || count(r.Assignment) != 6 {
		t.Fatalf("static rejoin: %+v", r)
	}
	// Invalid requests.
	wantErr(t, "no subscription", e.c.ConsumerHeartbeat(hb("g", "c", 0, nil)).Err, kerr.InvalidRequest)
	bad := "("
	req3 := hb("g", "c", 0, nil)
	req3.SubscribedRegex = &bad
	wantErr(t, "bad regex", e.c.ConsumerHeartbeat(req3).Err, kerr.InvalidRegularExpression)
	asg := "sticky"
	req4 := hb("g", "c", 0, nil, "t")
	req4.ServerAssignor = &asg
	wantErr(t, "unknown assignor", e.c.ConsumerHeartbeat(req4).Err, kerr.UnsupportedAssignor)
	// A classic group with members is not a consumer group.
	e.stableGroup("classic", 1, "t")
	wantErr(t, "heartbeat to classic", e.c.ConsumerHeartbeat(hb("classic", "x", 0, nil, "t")).Err, kerr.GroupIDNotFound)
	if d := e.c.ConsumerDescribe([]string{"classic", "none"}); !errorsIs(d[0].Err, kerr.GroupIDNotFound) || !errorsIs(d[1].Err, kerr.GroupIDNotFound) {
		t.Fatalf("describe: %+v", d)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
