package broker

// ConsumerGroupHeartbeat: v0-v1.
//
// Behavior: KIP-848 consumer groups (internal/group/consumer.go): members
// join with epoch 0, heartbeat with their epoch, leave with -1 (or -2, a
// static member leaving for a while). The coordinator computes the target
// assignment with a server-side assignor ("uniform", the default, or
// "range") and reconciles each member towards it: partitions are revoked
// before they are handed to another member. Heartbeat interval and session
// timeout are group.consumer.heartbeat.interval.ms (5000) and
// group.consumer.session.timeout.ms (45000). A classic group with members
// answers GROUP_ID_NOT_FOUND. Topics are named by id on the wire; owned
// partitions of topics we do not know are ignored.
//
// Version notes: v1 adds the subscribed topic regex (RE2 syntax, matched
// against whole names) and has the client generate its member id (KIP-1082);
// an empty id is still given one.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() {
	regKey(kmsg.ConsumerGroupHeartbeat, 0, 1, handleConsumerGroupHeartbeat)
	aclHooks[kmsg.ConsumerGroupHeartbeat.Int16()] = aclGroupRead(func(r *request) string {
		return r.kreq.(*kmsg.ConsumerGroupHeartbeatRequest).Group
	})
}

func handleConsumerGroupHeartbeat(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ConsumerGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	b := r.c.b

	hr := group.ConsumerHeartbeatRequest{
		Group:            req.Group,
		MemberID:         req.MemberID,
		MemberEpoch:      req.MemberEpoch,
		InstanceID:       req.InstanceID,
		RackID:           req.RackID,
		ClientID:         r.clientIDString(),
		ClientHost:       r.c.clientHost(),
		RebalanceTimeout: -1,
		SubscribedTopics: req.SubscribedTopicNames,
		ServerAssignor:   req.ServerAssignor,
	}
	if req.RebalanceTimeoutMillis >= 0 {
		hr.RebalanceTimeout = msDuration(req.RebalanceTimeoutMillis)
	}
	if r.version >= 1 {
		hr.SubscribedRegex = req.SubscribedTopicRegex
	}
	if req.Topics != nil {
		hr.Owned = group.TopicPartitions{}
		for _, t := range req.Topics {
			if name, ok := b.groupTopicName(t.TopicID); ok {
				hr.Owned[name] = append(hr.Owned[name], t.Partitions...)
			}
		}
	}
	r.wait = func() {
		c, err := b.coordinator()
		var res group.ConsumerHeartbeatResult
		if err == nil {
			res = c.ConsumerHeartbeat(hr)
			err = res.Err
		}
		if err != nil {
			resp.ErrorCode, resp.ErrorMessage = errorCode(err), errMsg(err)
			return
		}
		resp.MemberID = &res.MemberID
		resp.MemberEpoch = res.MemberEpoch
		resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
		if res.Assignment == nil || req.MemberEpoch < 0 {
			return
		}
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		names := make([]string, 0, len(res.Assignment))
		for t := range res.Assignment {
			names = append(names, t)
		}
		slices.Sort(names)
		for _, name := range names {
			id, ok := b.groupTopicID(name)
			if !ok {
				continue
			}
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID, at.Partitions = id, res.Assignment[name]
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	return resp, nil
}
