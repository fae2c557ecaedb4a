package broker

// LeaveGroup: v0-v5.
//
// Behavior: removes members and rebalances the rest. v0-v2 name one member
// by id and carry its error at the top level; v3+ (KIP-345) batch members,
// each by member id or, for an administrator removing a static member, by
// instance id alone, each with its own error (UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID).
//
// Version notes: v1 adds throttling, v3 batches members, v4 is flexible,
// v5 adds a reason per member (KIP-800).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() { regKey(kmsg.LeaveGroup, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	b := r.c.b

	var members []group.LeaveMember
	if r.version < 3 {
		members = []group.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			lm := group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID}
			if m.Reason != nil {
				lm.Reason = *m.Reason
			}
			members = append(members, lm)
		}
	}
	r.wait = func() {
		c, err := b.coordinator()
		var errs []error
		if err == nil {
			err, errs = c.Leave(req.Group, members)
		}
		if err != nil {
			resp.ErrorCode = errorCode(err)
			return
		}
		if r.version < 3 {
			resp.ErrorCode = errorCode(errs[0])
			return
		}
		for i, m := range members {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
			rm.ErrorCode = errorCode(errs[i])
			resp.Members = append(resp.Members, rm)
		}
	}
	return resp, nil
}
