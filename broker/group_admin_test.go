package broker_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kadmOffsets builds offsets topic -> partition -> offset with metadata.
func kadmOffsets(m map[string][]int64) kadm.Offsets {
	os := kadm.Offsets{}
	for topic, ps := range m {
		os[topic] = map[int32]kadm.Offset{}
		for p, at := range ps {
			os[topic][int32(p)] = kadm.Offset{Topic: topic, Partition: int32(p), At: at, LeaderEpoch: -1, Metadata: fmt.Sprintf("m%d", p)}
		}
	}
	return os
}

// wantFetched checks that group has exactly want committed.
func wantFetched(t testing.TB, adm *kadm.Client, group string, want map[string][]int64) {
	t.Helper()
	got, err := adm.FetchOffsets(testCtx(t), group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	n := 0
	for topic, ps := range want {
		for p, at := range ps {
			o, ok := got.Lookup(topic, int32(p))
			if !ok || o.Err != nil || o.At != at || o.Metadata != fmt.Sprintf("m%d", p) {
				t.Fatalf("group %s: %s/%d fetched %+v (found %v), want %d", group, topic, p, o, ok, at)
			}
			n++
		}
	}
	m := 0
	got.Each(func(kadm.OffsetResponse) { m++ })
	if m != n {
		t.Fatalf("group %s: fetched %d offsets, want %d: %+v", group, m, n, got)
	}
}

func TestKadmGroups(t *testing.T) {
	t.Parallel()
	_, addr := startGroupBroker(t)
	adm := kadm.NewClient(newFranz(t, addr))
	ctx := testCtx(t)
	createTopic(t, addr, "events", 8, nil)
	createTopic(t, addr, "other", 2, nil)

	// A commit from a non-member creates a group; every partition of the
	// request is answered and fetched, not just partition 0.
	simple := map[string][]int64{"events": {10, 11, 12, 13, 14, 15, 16, 17}, "other": {3, 4}}
	resp, err := adm.CommitOffsets(ctx, "simple", kadmOffsets(simple))
	if err != nil || resp.Error() != nil {
		t.Fatalf("simple commit: %v %v", err, resp.Error())
	}
	n := 0
	resp.Each(func(o kadm.OffsetResponse) { n++ })
	if n != 10 {
		t.Fatalf("commit answered %d partitions, want 10", n)
	}
	wantFetched(t, adm, "simple", simple)

	// Unknown topic partitions.
	resp, err = adm.CommitOffsets(ctx, "simple", kadmOffsets(map[string][]int64{"missing": {1}, "other": {5, 6, 7}}))
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := resp.Lookup("missing", 0); !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("commit to a missing topic: %v", o.Err)
	}
	if o, _ := resp.Lookup("other", 2); !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("commit to a missing partition: %v", o.Err)
	}
	if o, _ := resp.Lookup("other", 1); o.Err != nil {
		t.Fatalf("commit to an existing partition: %v", o.Err)
	}
	simple["other"][1] = 6

	// A consumer group with a member.
	cons := startGroupConsumer(t, addr, "live", "events", kgo.DisableAutoCommit())
	waitStable(t, adm, "live", 1)
	prod := newFranz(t, addr)
	produceSpread(t, prod, "events", 8, "v", 80)
	groupWaitFor(t, "80 records", 30*time.Second, func() (bool, string) {
		n := len(cons.snapshot())
		return n == 80, fmt.Sprintf("%d records", n)
	})
	if err := cons.cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l := listed["simple"]; l.ProtocolType != "" || l.State != "Empty" {
		t.Fatalf("listed simple group: %+v", l)
	}
	if l := listed["live"]; l.ProtocolType != "consumer" || l.State != "Stable" || l.Coordinator != 1 {
		t.Fatalf("listed consumer group: %+v", l)
	}
	if listed, err := adm.ListGroups(ctx, "Stable"); err != nil || len(listed) != 1 {
		t.Fatalf("listed Stable groups: %+v %v", listed, err)
	}

	described, err := adm.DescribeGroups(ctx, "live", "simple", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	d := described["live"]
	if d.Err != nil || d.State != "Stable" || d.ProtocolType != "consumer" || len(d.Members) != 1 {
		t.Fatalf("described: %+v", d)
	}
	m := d.Members[0]
	if m.ClientHost != "/127.0.0.1" || m.ClientID == "" {
		t.Fatalf("member: %+v", m)
	}
	cm, ok := m.Join.AsConsumer()
	if !ok || len(cm.Topics) != 1 || cm.Topics[0] != "events" {
		t.Fatalf("member metadata: %+v", m.Join)
	}
	ca, ok := m.Assigned.AsConsumer()
	if !ok || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != 8 {
		t.Fatalf("member assignment: %+v", m.Assigned)
	}
	if d := described["nobody"]; d.State != "Dead" || d.Err != nil {
		t.Fatalf("unknown group: %+v", d)
	}

	// The member's commits, all 8 partitions.
	got, err := adm.FetchOffsets(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 8; p++ {
		if o, ok := got.Lookup("events", p); !ok || o.At != 10 {
			t.Fatalf("live group partition %d: %+v", p, o)
		}
	}
	// Non-members cannot commit to a group with members.
	resp, err = adm.CommitOffsets(ctx, "live", kadmOffsets(map[string][]int64{"events": {0}}))
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := resp.Lookup("events", 0); !errors.Is(o.Err, kerr.UnknownMemberID) {
		t.Fatalf("non-member commit to a live group: %v", o.Err)
	}

	// OffsetDelete: subscribed topics are protected while members exist.
	del, err := adm.DeleteOffsets(ctx, "live", kadm.TopicsSet{"events": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := del.Lookup("events", 0); !errors.Is(e, kerr.GroupSubscribedToTopic) {
		t.Fatalf("delete a subscribed topic's offset: %v", e)
	}
	del, err = adm.DeleteOffsets(ctx, "simple", kadm.TopicsSet{"other": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := del.Lookup("other", 0); e != nil {
		t.Fatalf("delete an offset: %v", e)
	}
	simple["other"] = simple["other"][1:]
	got, _ = adm.FetchOffsets(ctx, "simple")
	if _, ok := got.Lookup("other", 0); ok {
		t.Fatal("deleted offset still fetched")
	}
	if o, _ := got.Lookup("other", 1); o.At != 6 {
		t.Fatalf("other/1 after deleting other/0: %+v", o)
	}
	if _, err := adm.DeleteOffsets(ctx, "nobody", kadm.TopicsSet{"other": {0: {}}}); !errors.Is(err, kerr.GroupIDNotFound) {
		t.Fatalf("delete offsets of an unknown group: %v", err)
	}

	// DeleteGroups.
	dg, err := adm.DeleteGroups(ctx, "live", "simple", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(dg["live"].Err, kerr.NonEmptyGroup) || dg["simple"].Err != nil || !errors.Is(dg["nobody"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete groups: %+v", dg)
	}
	if got, _ := adm.FetchOffsets(ctx, "simple"); len(got) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", got)
	}
	// The consumer leaves: now it can go.
	cons.close()
	groupWaitFor(t, "the group to empty", 10*time.Second, func() (bool, string) {
		ds, _ := adm.DescribeGroups(ctx, "live")
		return ds["live"].State == "Empty", ds["live"].State
	})
	if dg, err := adm.DeleteGroups(ctx, "live"); err != nil || dg["live"].Err != nil {
		t.Fatalf("delete the emptied group: %v %+v", err, dg)
	}
	if listed, _ := adm.ListGroups(ctx); len(listed) != 0 {
		t.Fatalf("groups left: %+v", listed)
	}
}
