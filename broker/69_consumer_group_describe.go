package broker

// ConsumerGroupDescribe: v0-v1.
//
// Behavior: describes KIP-848 consumer groups: state (Empty, Assigning,
// Reconciling, Stable), group and assignment epochs, the assignor, and
// each member's epoch, subscription, current and target assignments.
// Unknown groups, and classic ones, get GROUP_ID_NOT_FOUND. Authorized
// operations are always reported as "not requested" (MinInt32) unless
// asked for, then as the group's supported operations.
//
// Version notes: v1 adds the member type (1: consumer protocol).

import (
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() { regKey(kmsg.ConsumerGroupDescribe, 0, 1, handleConsumerGroupDescribe) }

func handleConsumerGroupDescribe(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	b := r.c.b
	assignment := func(tps group.TopicPartitions) kmsg.Assignment {
		a := kmsg.NewAssignment()
		names := make([]string, 0, len(tps))
		for t := range tps {
			names = append(names, t)
		}
		slices.Sort(names)
		for _, name := range names {
			id, ok := b.groupTopicID(name)
			if !ok {
				continue
			}
			at := kmsg.NewAssignmentTopicPartition()
			at.TopicID, at.Topic, at.Partitions = id, name, tps[name]
			a.TopicPartitions = append(a.TopicPartitions, at)
		}
		return a
	}
	r.wait = func() {
		c, err := b.coordinator()
		if err != nil {
			for _, id := range req.Groups {
				sg := kmsg.NewConsumerGroupDescribeResponseGroup()
				sg.Group, sg.ErrorCode, sg.ErrorMessage = id, errorCode(err), errMsg(err)
				resp.Groups = append(resp.Groups, sg)
			}
			return
		}
		for _, d := range c.ConsumerDescribe(req.Groups) {
			sg := kmsg.NewConsumerGroupDescribeResponseGroup()
			sg.Group, sg.ErrorCode, sg.ErrorMessage = d.Group, errorCode(d.Err), errMsg(d.Err)
			sg.AuthorizedOperations = math.MinInt32
			if d.Err == nil {
				sg.State, sg.Epoch, sg.AssignmentEpoch, sg.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
				if req.IncludeAuthorizedOperations {
					sg.AuthorizedOperations = groupAuthorizedOperations
				}
			}
			for _, m := range d.Members {
				sm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
				sm.MemberID, sm.InstanceID, sm.RackID, sm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
				sm.ClientID, sm.ClientHost = m.ClientID, m.ClientHost
				sm.SubscribedTopics, sm.SubscribedTopicRegex = m.SubscribedTopics, m.SubscribedRegex
				sm.Assignment, sm.TargetAssignment = assignment(m.Assignment), assignment(m.TargetAssignment)
				sm.MemberType = 1
				sg.Members = append(sg.Members, sm)
			}
			resp.Groups = append(resp.Groups, sg)
		}
	}
	return resp, nil
}
