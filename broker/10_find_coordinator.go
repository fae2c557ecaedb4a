package broker

// FindCoordinator: v0-v6.
//
// Behavior: we are the only node, so for a group key (type 0) the answer is
// always this node with its advertised address; any key, even empty, is
// answered, as Kafka does. Transaction keys (type 1) are answered the same
// way (the transaction coordinator, internal/txn, is always ours); other
// types (share groups' 2 included) get INVALID_REQUEST.
//
// Version notes: v1 adds the key type and error message, v3 is flexible,
// v4 batches keys (KIP-699), v5 and v6 only widen the errors and key types.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.FindCoordinator, 0, 6, handleFindCoordinator) }

const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func handleFindCoordinator(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	b := r.c.b

	keys := req.CoordinatorKeys
	if r.version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	if req.CoordinatorType == coordinatorGroup {
		b.groups() // start loading the offsets log, if not yet
	}
	for _, key := range keys {
		sc := kmsg.NewFindCoordinatorResponseCoordinator()
		sc.Key = key
		sc.NodeID, sc.Port = -1, -1
		switch req.CoordinatorType {
		case coordinatorGroup, coordinatorTransaction:
			sc.NodeID, sc.Host, sc.Port = b.cfg.NodeID, r.listenerHost(), r.listenerPort()
		default:
			sc.ErrorCode = kerr.InvalidRequest.Code
			sc.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Unknown coordinator type received: %d", req.CoordinatorType))
		}
		resp.Coordinators = append(resp.Coordinators, sc)
	}
	if r.version < 4 {
		sc := resp.Coordinators[0]
		resp.ErrorCode, resp.ErrorMessage = sc.ErrorCode, sc.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = sc.NodeID, sc.Host, sc.Port
		resp.Coordinators = nil
	}
	return resp, nil
}
