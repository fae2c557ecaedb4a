package broker

// SyncGroup: v0-v5.
//
// Behavior: the leader's SyncGroup carries the assignment, which is stored
// durably and handed to every member; followers' SyncGroups wait for it on
// the connection's writer. A Stable group answers with the member's current
// assignment at once. Errors as Kafka's: UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS (also while
// the offsets log loads: the rebalance is lost), and
// INCONSISTENT_GROUP_PROTOCOL when v5's protocol type or name is missing or
// disagrees with the group's.
//
// Version notes: v1 adds throttling, v3 the group instance id, v4 is
// flexible, v5 the protocol type and name (KIP-559).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() { regKey(kmsg.SyncGroup, 0, 5, handleSyncGroup) }

func handleSyncGroup(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	b := r.c.b
	if r.version >= 5 && (req.ProtocolType == nil || req.Protocol == nil) {
		// Kafka's areMandatoryProtocolTypeAndNamePresent, before anything.
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		return resp, nil
	}

	sr := group.SyncRequest{
		Group:        req.Group,
		Generation:   req.Generation,
		MemberID:     req.MemberID,
		InstanceID:   req.InstanceID,
		ProtocolType: req.ProtocolType,
		Protocol:     req.Protocol,
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments = append(sr.Assignments, group.Assignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
	}
	r.wait = func() {
		var res group.SyncResult
		c, err := b.coordinator()
		if err == nil {
			res, err = awaitGroup(b, c.Sync(sr))
		}
		if err != nil {
			resp.ErrorCode = errorCode(err)
			return
		}
		resp.ErrorCode = errorCode(res.Err)
		resp.ProtocolType, resp.Protocol = res.ProtocolType, res.Protocol
		resp.MemberAssignment = res.Assignment
	}
	return resp, nil
}
