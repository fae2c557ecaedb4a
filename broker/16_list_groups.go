package broker

// ListGroups: v0-v5.
//
// Behavior: every group, by id, with its protocol type ("consumer" for
// Kafka consumers, "" for groups that only hold offsets). While the offsets
// log loads the answer is COORDINATOR_LOAD_IN_PROGRESS and no groups.
//
// Version notes: v1 adds throttling, v3 is flexible, v4 the states filter
// and each group's state (KIP-518), v5 the types filter and each group's
// type (KIP-848: all ours are "classic"). Filters are case-insensitive.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.ListGroups, 0, 5, handleListGroups) }

func handleListGroups(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	b := r.c.b
	r.wait = func() {
		c, err := b.coordinator()
		if err != nil {
			resp.ErrorCode = errorCode(err)
			return
		}
		gs, err := c.List(req.StatesFilter, req.TypesFilter)
		if err != nil {
			resp.ErrorCode = errorCode(err)
			return
		}
		for _, g := range gs {
			sg := kmsg.NewListGroupsResponseGroup()
			sg.Group, sg.ProtocolType, sg.GroupState, sg.GroupType = g.Group, g.ProtocolType, g.State, g.Type
			resp.Groups = append(resp.Groups, sg)
		}
	}
	return resp, nil
}
