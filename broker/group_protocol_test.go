package broker_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Protocol-level tests of the group APIs at every version we register,
// with hand-built requests.

func TestGroupFindCoordinatorVersions(t *testing.T) {
	t.Parallel()
	b, addr := startGroupBroker(t)
	_ = b
	c := dialRaw(t, addr)
	corr := int32(0)
	for v := int16(0); v <= 6; v++ {
		for _, typ := range []int8{0, 1, 7} {
			if v == 0 && typ != 0 {
				continue
			}
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.SetVersion(v)
			req.CoordinatorType = typ
			keys := []string{"group-a"}
			if v >= 4 {
				keys = []string{"group-a", "", "group-b"}
				req.CoordinatorKeys = keys
			} else {
				req.CoordinatorKey = keys[0]
			}
			corr++
			resp := c.roundTrip(req, corr).(*kmsg.FindCoordinatorResponse)
			var got []kmsg.FindCoordinatorResponseCoordinator
			if v >= 4 {
				got = resp.Coordinators
			} else {
				got = []kmsg.FindCoordinatorResponseCoordinator{{Key: keys[0], NodeID: resp.NodeID, Host: resp.Host, Port: resp.Port, ErrorCode: resp.ErrorCode, ErrorMessage: resp.ErrorMessage}}
			}
			if len(got) != len(keys) {
				t.Fatalf("v%d type %d: %d coordinators for %d keys", v, typ, len(got), len(keys))
			}
			for i, sc := range got {
				if sc.Key != keys[i] {
					t.Fatalf("v%d: key %q answered as %q", v, keys[i], sc.Key)
				}
				switch typ {
				case 0, 1: // group and transaction coordinators are this node
					if sc.ErrorCode != 0 || sc.NodeID != 1 || sc.Host != "127.0.0.1" || sc.Port <= 0 {
						t.Fatalf("v%d key type %d %q: %+v", v, typ, sc.Key, sc)
					}
				default:
					if sc.ErrorCode != kerr.InvalidRequest.Code {
						t.Fatalf("v%d unknown key type: %+v", v, sc)
					}
				}
			}
		}
	}
}

func TestGroupOffsetVersions(t *testing.T) {
	t.Parallel()
	_, addr := startGroupBroker(t)
	createTopic(t, addr, "t", 4, nil)
	c := dialRaw(t, addr)
	corr := int32(0)
	for vc := int16(0); vc <= 9; vc++ {
		group := fmt.Sprintf("commit-v%d", vc)
		req := kmsg.NewPtrOffsetCommitRequest()
		req.SetVersion(vc)
		req.Group = group
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		for p := int32(0); p < 3; p++ {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, int64(vc)*10+int64(p), 7
			rp.Metadata = kmsg.StringPtr(fmt.Sprintf("md%d", p))
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		corr++
		resp := c.roundTrip(req, corr).(*kmsg.OffsetCommitResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 3 {
			t.Fatalf("commit v%d answered %+v", vc, resp.Topics)
		}
		for i, p := range resp.Topics[0].Partitions {
			if p.Partition != int32(i) || p.ErrorCode != 0 {
				t.Fatalf("commit v%d partition %d: %+v", vc, i, p)
			}
		}

		for vf := int16(0); vf <= 9; vf++ {
			check := func(partition int32, offset int64, epoch int32, md *string, code int16) {
				t.Helper()
				wantOff, wantMD, wantEpoch := int64(-1), "", int32(-1)
				if partition < 3 {
					wantOff, wantMD = int64(vc)*10+int64(partition), fmt.Sprintf("md%d", partition)
					if vc >= 6 && vf >= 5 {
						wantEpoch = 7
					}
				}
				if vf < 5 {
					epoch = -1 // not in the response
				}
				if offset != wantOff || deref(md) != wantMD || epoch != wantEpoch || code != 0 {
					t.Fatalf("commit v%d fetch v%d partition %d: offset %d epoch %d metadata %q error %d; want %d %d %q", vc, vf, partition, offset, epoch, deref(md), code, wantOff, wantEpoch, wantMD)
				}
			}
			for _, all := range []bool{false, true} {
				if all && vf < 2 {
					continue
				}
				freq := kmsg.NewPtrOffsetFetchRequest()
				freq.SetVersion(vf)
				var parts []int32
				if !all {
					parts = []int32{0, 1, 2, 3}
				}
				if vf >= 8 {
					g := kmsg.NewOffsetFetchRequestGroup()
					g.Group = group
					if !all {
						gt := kmsg.NewOffsetFetchRequestGroupTopic()
						gt.Topic, gt.Partitions = "t", parts
						g.Topics = append(g.Topics, gt)
					}
					freq.Groups = append(freq.Groups, g, kmsg.OffsetFetchRequestGroup{Group: "nobody", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}})
				} else {
					freq.Group = group
					if !all {
						ft := kmsg.NewOffsetFetchRequestTopic()
						ft.Topic, ft.Partitions = "t", parts
						freq.Topics = append(freq.Topics, ft)
					}
				}
				corr++
				fresp := c.roundTrip(freq, corr).(*kmsg.OffsetFetchResponse)
				want := 4
				if all {
					want = 3
				}
				n := 0
				if vf >= 8 {
					if len(fresp.Groups) != 2 || fresp.Groups[0].ErrorCode != 0 || fresp.Groups[1].Topics[0].Partitions[0].Offset != -1 {
						t.Fatalf("fetch v%d groups: %+v", vf, fresp.Groups)
					}
					for _, ft := range fresp.Groups[0].Topics {
						for _, p := range ft.Partitions {
							check(p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
							n++
						}
					}
				} else {
					if fresp.ErrorCode != 0 {
						t.Fatalf("fetch v%d: error %d", vf, fresp.ErrorCode)
					}
					for _, ft := range fresp.Topics {
						for _, p := range ft.Partitions {
							check(p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
							n++
						}
					}
				}
				if n != want {
					t.Fatalf("commit v%d fetch v%d (all %v): %d partitions, want %d", vc, vf, all, n, want)
				}
			}
		}
	}
}

// TestGroupPipelinedCommitFetch sends commits and fetches back to back on
// one connection: each fetch sees the commit before it, as on Kafka, where
// a connection's requests are handled one at a time.
func TestGroupPipelinedCommitFetch(t *testing.T) {
	t.Parallel()
	_, addr := startGroupBroker(t)
	createTopic(t, addr, "t", 1, nil)
	c := dialRaw(t, addr)
	var reqs []kmsg.Request
	for i := range 20 {
		cr := kmsg.NewPtrOffsetCommitRequest()
		cr.SetVersion(8)
		cr.Group, cr.Generation = "pipe", -1
		cr.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: int64(i), LeaderEpoch: -1}}}}
		fr := kmsg.NewPtrOffsetFetchRequest()
		fr.SetVersion(7)
		fr.Group = "pipe"
		fr.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
		reqs = append(reqs, cr, fr)
	}
	for i, r := range reqs {
		c.mustSend(encodeReq(r, int32(i)))
	}
	for i, r := range reqs {
		resp := c.read(r, int32(i))
		if f, ok := resp.(*kmsg.OffsetFetchResponse); ok {
			if got := f.Topics[0].Partitions[0].Offset; got != int64(i/2) {
				t.Fatalf("fetch %d saw offset %d, want %d", i/2, got, i/2)
			}
		}
	}
}

// rawJoin runs a member through JoinGroup (with MEMBER_ID_REQUIRED from
// v4), SyncGroup and Heartbeat at the given versions.
func TestGroupMembershipVersions(t *testing.T) {
	t.Parallel()
	_, addr := startGroupBroker(t)
	createTopic(t, addr, "t", 2, nil)
	c := dialRaw(t, addr)
	corr := int32(0)
	rt := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		corr++
		return c.roundTrip(req, corr)
	}
	meta := (&kmsg.ConsumerMemberMetadata{Topics: []string{"t"}}).AppendTo(nil)
	for jv := int16(0); jv <= 9; jv++ {
		group := fmt.Sprintf("join-v%d", jv)
		join := kmsg.NewPtrJoinGroupRequest()
		join.SetVersion(jv)
		join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = group, 6000, 10000
		join.ProtocolType = "consumer"
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta}}
		jr := rt(join).(*kmsg.JoinGroupResponse)
		if jv >= 4 {
			if jr.ErrorCode != kerr.MemberIDRequired.Code || jr.MemberID == "" {
				t.Fatalf("join v%d without id: %+v", jv, jr)
			}
			join.MemberID = jr.MemberID
			jr = rt(join).(*kmsg.JoinGroupResponse)
		}
		if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != jr.MemberID || len(jr.Members) != 1 || deref(jr.Protocol) != "range" {
			t.Fatalf("join v%d: %+v", jv, jr)
		}
		if jv >= 7 && deref(jr.ProtocolType) != "consumer" {
			t.Fatalf("join v%d protocol type %v", jv, jr.ProtocolType)
		}
		member := jr.MemberID

		sync := kmsg.NewPtrSyncGroupRequest()
		sync.SetVersion(min(jv, 5))
		sync.Group, sync.Generation, sync.MemberID = group, 1, member
		if jv >= 5 {
			sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
		}
		assignment := (&kmsg.ConsumerMemberAssignment{Topics: []kmsg.ConsumerMemberAssignmentTopic{{Topic: "t", Partitions: []int32{0, 1}}}}).AppendTo(nil)
		sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: member, MemberAssignment: assignment}}
		sr := rt(sync).(*kmsg.SyncGroupResponse)
		if sr.ErrorCode != 0 || string(sr.MemberAssignment) != string(assignment) {
			t.Fatalf("sync v%d: %+v", sync.Version, sr)
		}

		hb := kmsg.NewPtrHeartbeatRequest()
		hb.SetVersion(min(jv, 4))
		hb.Group, hb.Generation, hb.MemberID = group, 1, member
		if r := rt(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != 0 {
			t.Fatalf("heartbeat v%d: %d", hb.Version, r.ErrorCode)
		}
		hb.Generation = 2
		if r := rt(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != kerr.IllegalGeneration.Code {
			t.Fatalf("heartbeat v%d of another generation: %d", hb.Version, r.ErrorCode)
		}

		for dv := int16(0); dv <= 5; dv++ {
			for _, ops := range []bool{false, true} {
				d := kmsg.NewPtrDescribeGroupsRequest()
				d.SetVersion(dv)
				d.Groups = []string{group}
				d.IncludeAuthorizedOperations = ops
				dr := rt(d).(*kmsg.DescribeGroupsResponse)
				g := dr.Groups[0]
				if g.ErrorCode != 0 || g.State != "Stable" || g.Protocol != "range" || len(g.Members) != 1 || string(g.Members[0].MemberAssignment) != string(assignment) || string(g.Members[0].ProtocolMetadata) != string(meta) {
					t.Fatalf("describe v%d: %+v", dv, g)
				}
				wantOps := int32(math.MinInt32)
				if ops && dv >= 3 {
					wantOps = 3400 // as Kafka 4.1
				}
				if dv >= 3 && g.AuthorizedOperations != wantOps {
					t.Fatalf("describe v%d (ops %v): authorized operations %d", dv, ops, g.AuthorizedOperations)
				}
			}
		}

		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.SetVersion(min(jv, 5))
		leave.Group = group
		if leave.Version < 3 {
			leave.MemberID = member
		} else {
			leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: member}, {MemberID: "nobody"}}
		}
		lr := rt(leave).(*kmsg.LeaveGroupResponse)
		if leave.Version < 3 {
			if lr.ErrorCode != 0 {
				t.Fatalf("leave v%d: %+v", leave.Version, lr)
			}
		} else if lr.ErrorCode != 0 || len(lr.Members) != 2 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
			t.Fatalf("leave v%d: %+v", leave.Version, lr)
		}
	}

	for lv := int16(0); lv <= 5; lv++ {
		l := kmsg.NewPtrListGroupsRequest()
		l.SetVersion(lv)
		if lv >= 4 {
			l.StatesFilter = []string{"empty"}
		}
		if lv >= 5 {
			l.TypesFilter = []string{"classic"}
		}
		lr := rt(l).(*kmsg.ListGroupsResponse)
		if lr.ErrorCode != 0 || len(lr.Groups) != 10 {
			t.Fatalf("list v%d: %+v", lv, lr)
		}
		for _, g := range lr.Groups {
			if g.ProtocolType != "consumer" || (lv >= 4 && g.GroupState != "Empty") || (lv >= 5 && g.GroupType != "classic") {
				t.Fatalf("list v%d: %+v", lv, g)
			}
		}
	}

	for dv := int16(0); dv <= 2; dv++ {
		d := kmsg.NewPtrDeleteGroupsRequest()
		d.SetVersion(dv)
		d.Groups = []string{fmt.Sprintf("join-v%d", dv), "nobody"}
		dr := rt(d).(*kmsg.DeleteGroupsResponse)
		if len(dr.Groups) != 2 || dr.Groups[0].ErrorCode != 0 || dr.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
			t.Fatalf("delete groups v%d: %+v", dv, dr.Groups)
		}
	}
}
