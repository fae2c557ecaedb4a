package broker

// DescribeCluster: v0-v2.
//
// Behavior: this node is the only broker and the controller. Asking this
// endpoint for controllers (endpoint type 2) gets UNSUPPORTED_ENDPOINT_TYPE,
// as a Kafka broker answers. We never have fenced brokers.

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.DescribeCluster, 0, 2, handleDescribeCluster) }

func handleDescribeCluster(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	b := r.c.b
	resp.EndpointType = 1
	if r.version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
		resp.ErrorMessage = &msg
		return resp, nil
	}
	resp.ClusterID = b.meta.ClusterID()
	resp.ControllerID = b.cfg.NodeID
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = b.cfg.NodeID, r.listenerHost(), r.listenerPort()
	resp.Brokers = append(resp.Brokers, br)
	resp.ClusterAuthorizedOperations = math.MinInt32
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterOps
	}
	return resp, nil
}
