package broker

// JoinGroup: v0-v9.
//
// Behavior: Kafka's classic group protocol (internal/group has the state
// machine). The answer to a join usually waits for the rebalance: the
// request is handed to the coordinator on the connection's writer, which
// waits for the answer while the reader goes on. Session timeouts outside
// group.{min,max}.session.timeout.ms get INVALID_SESSION_TIMEOUT; a
// protocol type or protocols the group cannot agree on get
// INCONSISTENT_GROUP_PROTOCOL; a group that leaves Empty waits
// group.initial.rebalance.delay.ms for more members. The leader gets every
// member's metadata for the chosen protocol.
//
// Version notes: v0 has no rebalance timeout (the session timeout serves);
// v4 requires a known member id (KIP-394: MEMBER_ID_REQUIRED hands out
// "<client id>-<uuid>"); v5 adds static membership (KIP-345); v6 is
// flexible; v7 returns the protocol type; v8 adds a reason (KIP-800);
// v9 skip_assignment for static leaders (KIP-814).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() { regKey(kmsg.JoinGroup, 0, 9, handleJoinGroup) }

func handleJoinGroup(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	b := r.c.b

	jr := group.JoinRequest{
		Group:                  req.Group,
		MemberID:               req.MemberID,
		InstanceID:             req.InstanceID,
		ClientID:               r.clientIDString(),
		ClientHost:             r.c.clientHost(),
		SessionTimeout:         msDuration(req.SessionTimeoutMillis),
		RebalanceTimeout:       msDuration(req.RebalanceTimeoutMillis),
		ProtocolType:           req.ProtocolType,
		RequireKnownMemberID:   r.version >= 4,
		SupportsSkipAssignment: r.version >= 9,
	}
	if r.version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	if req.Reason != nil {
		jr.Reason = *req.Reason
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	r.wait = func() {
		var res group.JoinResult
		c, err := b.coordinator()
		if err == nil {
			res, err = awaitGroup(b, c.Join(jr))
		}
		if err != nil {
			resp.ErrorCode, resp.MemberID, resp.Generation = errorCode(err), req.MemberID, -1
			return
		}
		resp.ErrorCode = errorCode(res.Err)
		resp.MemberID = res.MemberID
		resp.Generation = res.Generation
		resp.ProtocolType, resp.Protocol = res.ProtocolType, res.Protocol
		resp.LeaderID = res.Leader
		resp.SkipAssignment = res.SkipAssignment
		for _, m := range res.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
			resp.Members = append(resp.Members, rm)
		}
	}
	return resp, nil
}
