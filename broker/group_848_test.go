package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

// start848Broker starts a broker whose consumer groups heartbeat fast.
func start848Broker(t testing.TB) string {
	t.Helper()
	_, addr := startGroupBroker(t, func(c *broker.Config) {
		c.BrokerConfigs["group.consumer.heartbeat.interval.ms"] = "100"
		c.BrokerConfigs["group.consumer.session.timeout.ms"] = "6000"
	})
	return addr
}

// describe848 describes a consumer group with ConsumerGroupDescribe.
func describe848(t testing.TB, cl *kgo.Client, groupID string) (kmsg.ConsumerGroupDescribeResponseGroup, error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{groupID}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		return kmsg.ConsumerGroupDescribeResponseGroup{}, err
	}
	g := resp.Groups[0]
	return g, kerr.ErrorForCode(g.ErrorCode)
}

// wait848Stable waits until the consumer group is Stable with n members,
// every partition of the topic assigned once.
func wait848Stable(t testing.TB, cl *kgo.Client, groupID string, n, partitions int) {
	t.Helper()
	groupWaitFor(t, fmt.Sprintf("consumer group %s stable with %d members", groupID, n), 30*time.Second, func() (bool, string) {
		g, err := describe848(t, cl, groupID)
		if err != nil {
			return false, err.Error()
		}
		total := 0
		for _, m := range g.Members {
			for _, tp := range m.Assignment.TopicPartitions {
				total += len(tp.Partitions)
			}
		}
		if g.State != "Stable" || len(g.Members) != n || total != partitions {
			return false, fmt.Sprintf("state %s, %d members, %d partitions assigned", g.State, len(g.Members), total)
		}
		return true, ""
	})
}

func TestFranz848GroupConsume(t *testing.T) {
	t.Parallel()
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{{"uniform", kgo.CooperativeStickyBalancer()}, {"range", kgo.RangeBalancer()}} {
		t.Run(bal.name, func(t *testing.T) {
			t.Parallel()
			addr := start848Broker(t)
			const topic, groupID = "orders848", "billing848"
			createTopic(t, addr, topic, 6, nil)
			prod := newFranz(t, addr)
			adm := newFranz(t, addr)
			opts := []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(bal.b), kgo.DisableAutoCommit()}

			c1 := startGroupConsumer(t, addr, groupID, topic, opts...)
			c2 := startGroupConsumer(t, addr, groupID, topic, opts...)
			c3 := startGroupConsumer(t, addr, groupID, topic, opts...)
			wait848Stable(t, adm, groupID, 3, 6)
			g, _ := describe848(t, adm, groupID)
			if g.AssignorName != bal.name {
				t.Errorf("assignor %q, want %q", g.AssignorName, bal.name)
			}
			for _, m := range g.Members {
				n := 0
				for _, tp := range m.Assignment.TopicPartitions {
					n += len(tp.Partitions)
				}
				if n != 2 {
					t.Errorf("member %s has %d partitions, want 2", m.MemberID, n)
				}
			}

			produceSpread(t, prod, topic, 6, "a", 600)
			groupWaitFor(t, "600 records consumed", 30*time.Second, func() (bool, string) {
				u := seenUnion(c1, c2, c3)
				return len(u) == 600, fmt.Sprintf("%d distinct", len(u))
			})
			for v, n := range seenUnion(c1, c2, c3) {
				if n != 1 {
					t.Fatalf("record %s consumed %d times", v, n)
				}
			}
			for _, c := range []*groupConsumer{c1, c2, c3} {
				if len(c.snapshot()) == 0 {
					t.Errorf("a member consumed nothing")
				}
				if err := c.cl.CommitUncommittedOffsets(testCtx(t)); err != nil {
					t.Fatalf("commit: %v", err)
				}
			}

			// ListGroups reports a consumer group.
			lreq := kmsg.NewPtrListGroupsRequest()
			lresp, err := lreq.RequestWith(testCtx(t), adm)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, lg := range lresp.Groups {
				if lg.Group == groupID {
					found = true
					if lg.GroupType != "consumer" || lg.GroupState != "Stable" {
						t.Errorf("listed as type %q state %q", lg.GroupType, lg.GroupState)
					}
				}
			}
			if !found {
				t.Errorf("group not listed")
			}

			// A member leaves: its partitions move, and consumption resumes
			// from the committed offsets (no record again).
			c3.close()
			wait848Stable(t, adm, groupID, 2, 6)
			produceSpread(t, prod, topic, 6, "b", 600)
			groupWaitFor(t, "1200 records consumed", 30*time.Second, func() (bool, string) {
				u := seenUnion(c1, c2, c3)
				return len(u) == 1200, fmt.Sprintf("%d distinct", len(u))
			})
			for v, n := range seenUnion(c1, c2, c3) {
				if n != 1 {
					t.Fatalf("record %s consumed %d times", v, n)
				}
			}
			for _, c := range []*groupConsumer{c1, c2} {
				if err := c.cl.CommitUncommittedOffsets(testCtx(t)); err != nil {
					t.Fatalf("commit: %v", err)
				}
			}
		})
	}
}

// A classic member cannot join a consumer group with members.
func TestFranz848ClassicJoinRejected(t *testing.T) {
	t.Parallel()
	addr := start848Broker(t)
	const topic, groupID = "mixed848", "mixed848"
	createTopic(t, addr, topic, 2, nil)
	adm := newFranz(t, addr)
	startGroupConsumer(t, addr, groupID, topic, kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
	wait848Stable(t, adm, groupID, 1, 2)
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = groupID, "consumer", 10000, 10000
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0}
	req.Protocols = append(req.Protocols, p)
	req.MemberID = ""
	resp, err := req.RequestWith(testCtx(t), adm)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != kerr.InconsistentGroupProtocol {
		t.Fatalf("classic join: %v, want INCONSISTENT_GROUP_PROTOCOL", err)
	}
}

// Partitions added to a subscribed topic are assigned; a static member
// that restarts gets its partitions back.
func TestFranz848PartitionsAndStatic(t *testing.T) {
	t.Parallel()
	addr := start848Broker(t)
	const topic, groupID = "grow848", "grow848"
	createTopic(t, addr, topic, 3, nil)
	admCl := newFranz(t, addr)
	opts := []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.MetadataMinAge(100 * time.Millisecond), kgo.MetadataMaxAge(500 * time.Millisecond)}
	startGroupConsumer(t, addr, groupID, topic, opts...)
	c2 := startGroupConsumer(t, addr, groupID, topic, append(opts, kgo.InstanceID("static-2"))...)
	wait848Stable(t, admCl, groupID, 2, 3)

	adm := kadm.NewClient(admCl)
	if _, err := adm.CreatePartitions(testCtx(t), 3, topic); err != nil {
		t.Fatal(err)
	}
	wait848Stable(t, admCl, groupID, 2, 6)

	owned := func(instance string) (string, int) {
		g, err := describe848(t, admCl, groupID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range g.Members {
			if m.InstanceID != nil && *m.InstanceID == instance {
				n := 0
				for _, tp := range m.Assignment.TopicPartitions {
					n += len(tp.Partitions)
				}
				return m.MemberID, n
			}
		}
		return "", 0
	}
	oldID, n := owned("static-2")
	if oldID == "" || n != 3 {
		t.Fatalf("static member %q owns %d partitions, want 3", oldID, n)
	}
	// A static member leaving stays in the group (epoch -2) until it is
	// back or its session expires; back, it owns the same share.
	c2.close()
	startGroupConsumer(t, addr, groupID, topic, append(opts, kgo.InstanceID("static-2"))...)
	wait848Stable(t, admCl, groupID, 2, 6)
	if newID, n := owned("static-2"); newID == "" || n != 3 {
		t.Fatalf("restarted static member %q owns %d partitions, want 3", newID, n)
	}
}
