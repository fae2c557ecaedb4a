package broker

// DeleteGroups: v0-v2.
//
// Behavior: deletes Empty groups with their offsets (tombstones in the
// offsets log; answered once durable). A group with members gets
// NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND. The empty group id is
// a group like any other here, as in Kafka.
//
// Version notes: v1 adds throttling, v2 is flexible. Not done: v3 (error
// messages).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.DeleteGroups, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	b := r.c.b
	r.wait = func() {
		var errs []error
		c, err := b.coordinator()
		if err == nil {
			errs, err = awaitGroup(b, c.DeleteGroups(req.Groups))
		}
		for i, id := range req.Groups {
			sg := kmsg.NewDeleteGroupsResponseGroup()
			sg.Group = id
			if err != nil {
				sg.ErrorCode = errorCode(err)
			} else {
				sg.ErrorCode = errorCode(errs[i])
			}
			resp.Groups = append(resp.Groups, sg)
		}
	}
	return resp, nil
}
