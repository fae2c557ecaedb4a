package diff

import "github.com/twmb/franz-go/pkg/kmsg"

// Classic consumer group steps. Group names are case-local like topics
// (c.T). The member id a JoinGroup hands out is captured as "member" and the
// generation as "gen".

// waitCoordinator waits (not compared) until FindCoordinator for the group
// answers without error (Kafka creates __consumer_offsets on first use) and
// the coordinator has loaded the group's partition (OffsetFetch without
// COORDINATOR_LOAD_IN_PROGRESS).
func waitCoordinator(group string) []Step {
	loaded := offsetFetch("wait for the coordinator to load", group, "")
	loaded.NoCompare = true
	loaded.Until = func(r kmsg.Response) bool {
		resp := r.(*kmsg.OffsetFetchResponse)
		for _, g := range resp.Groups {
			if g.ErrorCode != 0 {
				return false
			}
		}
		return resp.ErrorCode == 0
	}
	return []Step{findCoordinatorWait(group), loaded}
}

func findCoordinatorWait(group string) Step {
	return Step{
		Name:      "wait for the coordinator of " + group,
		NoCompare: true,
		Req:       func(c *Ctx) kmsg.Request { return findCoordinatorReq(c, group) },
		Until: func(r kmsg.Response) bool {
			resp := r.(*kmsg.FindCoordinatorResponse)
			if len(resp.Coordinators) > 0 {
				return resp.Coordinators[0].ErrorCode == 0
			}
			return resp.ErrorCode == 0
		},
	}
}

func findCoordinatorReq(c *Ctx, group string) *kmsg.FindCoordinatorRequest {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = c.T(group)
	req.CoordinatorKeys = []string{c.T(group)}
	req.CoordinatorType = 0
	return req
}

func findCoordinator(group string) Step {
	return raw("find coordinator "+group, func(c *Ctx) kmsg.Request { return findCoordinatorReq(c, group) })
}

// subscription is a consumer protocol subscription to case topics.
func subscription(c *Ctx, topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 0
	for _, t := range topics {
		m.Topics = append(m.Topics, c.T(t))
	}
	return m.AppendTo(nil)
}

// joinGroup joins with the captured member id ("" on the first join).
func joinGroup(label, group string, topics ...string) Step {
	return Step{
		Name: "join group " + label,
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Group = c.T(group)
			req.SessionTimeoutMillis = 30000
			req.RebalanceTimeoutMillis = 5000
			req.MemberID, _ = c.Vars["member"].(string)
			req.ProtocolType = "consumer"
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name = "range"
			p.Metadata = subscription(c, topics...)
			req.Protocols = append(req.Protocols, p)
			return req
		},
		Then: func(c *Ctx, r kmsg.Response) {
			resp := r.(*kmsg.JoinGroupResponse)
			if resp.MemberID != "" {
				c.Vars["member"] = resp.MemberID
			}
			if resp.ErrorCode == 0 {
				c.Vars["gen"] = resp.Generation
			}
		},
	}
}

// syncGroup syncs as leader, assigning partition 0 of topic to itself.
func syncGroup(label, group, topic string) Step {
	return raw("sync group "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Group = c.T(group)
		req.Generation, _ = c.Vars["gen"].(int32)
		req.MemberID, _ = c.Vars["member"].(string)
		req.ProtocolType = kmsg.StringPtr("consumer")
		req.Protocol = kmsg.StringPtr("range")
		a := kmsg.NewConsumerMemberAssignment()
		at := kmsg.NewConsumerMemberAssignmentTopic()
		at.Topic = c.T(topic)
		at.Partitions = []int32{0}
		a.Topics = append(a.Topics, at)
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID = req.MemberID
		ga.MemberAssignment = a.AppendTo(nil)
		req.GroupAssignment = append(req.GroupAssignment, ga)
		return req
	})
}

func heartbeat(label, group string, generation *int32, member *string) Step {
	return raw("heartbeat "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group = c.T(group)
		req.Generation, _ = c.Vars["gen"].(int32)
		req.MemberID, _ = c.Vars["member"].(string)
		if generation != nil {
			req.Generation = *generation
		}
		if member != nil {
			req.MemberID = *member
		}
		return req
	})
}

func leaveGroup(label, group string, member *string) Step {
	return raw("leave group "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = c.T(group)
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID, _ = c.Vars["member"].(string)
		if member != nil {
			m.MemberID = *member
		}
		req.Members = append(req.Members, m)
		return req
	})
}

// offsetCommit commits offset for partition 0 of topic; simple (generation
// -1, no member) unless inGroup.
func offsetCommit(label, group, topic string, offset int64, inGroup bool) Step {
	return raw("offset commit "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group = c.T(group)
		req.Generation = -1
		if inGroup {
			req.Generation, _ = c.Vars["gen"].(int32)
			req.MemberID, _ = c.Vars["member"].(string)
		}
		t := kmsg.NewOffsetCommitRequestTopic()
		t.Topic = c.T(topic)
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition = 0
		p.Offset = offset
		p.LeaderEpoch = -1
		p.Metadata = kmsg.StringPtr("meta-" + label)
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		return req
	})
}

// offsetFetch fetches the group's offsets for partitions 0 and 1 of topic, or
// all offsets if topic is "".
func offsetFetch(label, group, topic string) Step {
	return raw("offset fetch "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrOffsetFetchRequest()
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = c.T(group)
		g.MemberEpoch = -1
		if topic != "" {
			t := kmsg.NewOffsetFetchRequestGroupTopic()
			t.Topic = c.T(topic)
			t.Partitions = []int32{0, 1}
			g.Topics = append(g.Topics, t)
		}
		req.Groups = append(req.Groups, g)
		// v0-7 fields, for pinned versions
		req.Group = g.Group
		if topic != "" {
			t := kmsg.NewOffsetFetchRequestTopic()
			t.Topic = c.T(topic)
			t.Partitions = []int32{0, 1}
			req.Topics = append(req.Topics, t)
		}
		return req
	})
}

func describeGroups(group string) Step {
	return raw("describe groups "+group, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{c.T(group)}
		return req
	})
}

func deleteGroups(group string) Step {
	return raw("delete groups "+group, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{c.T(group)}
		return req
	})
}

// listGroups lists groups, keeping only this case's in the response (other
// cases run concurrently on the same brokers).
func listGroups() Step {
	return Step{
		Name: "list groups",
		Req:  func(c *Ctx) kmsg.Request { return kmsg.NewPtrListGroupsRequest() },
		Then: func(c *Ctx, r kmsg.Response) {
			resp := r.(*kmsg.ListGroupsResponse)
			kept := resp.Groups[:0]
			for _, g := range resp.Groups {
				if len(g.Group) >= len(c.prefix) && g.Group[:len(c.prefix)] == c.prefix {
					kept = append(kept, g)
				}
			}
			if len(kept) == 0 {
				kept = nil // as decoded from an empty array
			}
			resp.Groups = kept
		},
	}
}

func i32(n int32) *int32   { return &n }
func str(s string) *string { return &s }

var groupCases = []Case{
	{Name: "group-unknown", Steps: steps(
		waitCoordinator("g"),
		findCoordinator("g"),
		offsetFetch("unknown group, one topic", "g", "t"),
		offsetFetch("unknown group, all topics", "g", ""),
		describeGroups("g"),
		heartbeat("unknown group", "g", i32(1), str("nobody")),
		leaveGroup("unknown group", "g", str("nobody")),
		deleteGroups("g"),
		listGroups(),
	)},

	{Name: "group-simple-commit", Steps: steps(
		newTopic("t", 2),
		waitCoordinator("g"),
		offsetCommit("offset 5", "g", "t", 5, false),
		offsetFetch("after commit", "g", "t"),
		offsetFetch("all topics", "g", ""),
		offsetCommit("unknown topic", "g", "missing", 1, false),
		describeGroups("g"),
		listGroups(),
		deleteGroups("g"),
		offsetFetch("after delete", "g", "t"),
	)},

	{Name: "group-join-sync-leave", Steps: steps(
		newTopic("t", 1),
		waitCoordinator("g"),
		joinGroup("without member id (MEMBER_ID_REQUIRED)", "g", "t"),
		joinGroup("with member id", "g", "t"),
		syncGroup("as leader", "g", "t"),
		heartbeat("member", "g", nil, nil),
		heartbeat("wrong generation", "g", i32(99), nil),
		heartbeat("unknown member", "g", nil, str("nobody")),
		offsetCommit("in group", "g", "t", 7, true),
		offsetCommit("stale generation", "g", "t", 8, false),
		offsetFetch("after commits", "g", "t"),
		describeGroups("g"),
		deleteGroups("g"),
		leaveGroup("member", "g", nil),
		describeGroups("g"),
		listGroups(),
	)},
}

func init() { cases = append(cases, groupCases...) }
