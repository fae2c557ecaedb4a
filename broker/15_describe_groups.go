package broker

// DescribeGroups: v0-v5.
//
// Behavior: state, protocol type and members of each group. As in Kafka,
// the chosen protocol and the members' metadata and assignments are given
// only for a Stable group, and a group we do not know is "Dead" with no
// error. Authorized operations (v3+) are -2147483648 unless asked for; then,
// with no authorizer, every operation a group supports, as Kafka 4.1
// answers: READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS and ALTER_CONFIGS.
//
// Version notes: v1 adds throttling, v3 authorized operations (KIP-430), v4
// the members' instance ids, v5 is flexible. Not done: v6 (GROUP_ID_NOT_FOUND
// with a message for unknown groups, KIP-1043).

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.DescribeGroups, 0, 5, handleDescribeGroups) }

// groupAuthorizedOperations is READ (3), DELETE (6), DESCRIBE (8),
// DESCRIBE_CONFIGS (10) and ALTER_CONFIGS (11) as bits (3400): Kafka's
// supported operations of a GROUP resource.
const groupAuthorizedOperations = 1<<3 | 1<<6 | 1<<8 | 1<<10 | 1<<11

func handleDescribeGroups(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	b := r.c.b
	r.wait = func() {
		c, err := b.coordinator()
		if err != nil {
			for _, id := range req.Groups {
				sg := kmsg.NewDescribeGroupsResponseGroup()
				sg.Group, sg.ErrorCode = id, errorCode(err)
				resp.Groups = append(resp.Groups, sg)
			}
			return
		}
		for _, d := range c.Describe(req.Groups) {
			sg := kmsg.NewDescribeGroupsResponseGroup()
			sg.Group, sg.ErrorCode = d.Group, errorCode(d.Err)
			sg.State, sg.ProtocolType, sg.Protocol = d.State, d.ProtocolType, d.Protocol
			sg.AuthorizedOperations = math.MinInt32
			if req.IncludeAuthorizedOperations && d.Err == nil {
				sg.AuthorizedOperations = groupAuthorizedOperations
			}
			for _, m := range d.Members {
				sm := kmsg.NewDescribeGroupsResponseGroupMember()
				sm.MemberID, sm.InstanceID, sm.ClientID, sm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
				sm.ProtocolMetadata, sm.MemberAssignment = m.Metadata, m.Assignment
				sg.Members = append(sg.Members, sm)
			}
			resp.Groups = append(resp.Groups, sg)
		}
	}
	return resp, nil
}
