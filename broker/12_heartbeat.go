package broker

// Heartbeat: v0-v4.
//
// Behavior: restarts the member's session timer. Answers
// REBALANCE_IN_PROGRESS while the group prepares a rebalance (the member
// must rejoin), ILLEGAL_GENERATION for another generation,
// UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID for members not (or no longer) in
// the group, and nothing while the offsets log loads, as Kafka does.
//
// Version notes: v1 adds throttling, v3 the group instance id (KIP-345), v4
// is flexible.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() { regKey(kmsg.Heartbeat, 0, 4, handleHeartbeat) }

func handleHeartbeat(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	b := r.c.b
	hr := group.HeartbeatRequest{Group: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: req.InstanceID}
	r.wait = func() {
		c, err := b.coordinator()
		if err == nil {
			err = c.Heartbeat(hr)
		}
		resp.ErrorCode = errorCode(err)
	}
	return resp, nil
}
