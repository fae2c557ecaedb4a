package broker

// DescribeAcls: v0-v3.
//
// Behavior: lists the stored ACL bindings a filter selects, grouped by
// resource pattern (Kafka's ResourcePatternFilter and
// AccessControlEntryFilter semantics, internal/auth). Needs DESCRIBE on the
// cluster (CLUSTER_AUTHORIZATION_FAILED). Without an authorizer the answer
// is SECURITY_DISABLED, as Kafka's. A filter with UNKNOWN elements is
// INVALID_REQUEST.
//
// Version notes: v0 has no pattern type (LITERAL; ANY is treated as
// LITERAL, as Kafka does); v1 adds pattern types (KIP-290); v2 is
// flexible; v3 adds the USER resource type.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

func init() { regKey(kmsg.DescribeACLs, 0, 3, handleDescribeACLs) }

func handleDescribeACLs(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	sec := r.c.b.sec
	if !r.authorizeCluster(auth.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(kerr.ClusterAuthorizationFailed.Description)
		return resp, nil
	}
	if sec.authz == nil {
		resp.ErrorCode = kerr.SecurityDisabled.Code
		resp.ErrorMessage = kmsg.StringPtr("No Authorizer is configured on the broker")
		return resp, nil
	}
	f := auth.Filter{
		ResourceType: auth.ResourceType(req.ResourceType), ResourceName: req.ResourceName, PatternType: auth.PatternType(req.ResourcePatternType),
		Principal: req.Principal, Host: req.Host, Operation: auth.Operation(req.Operation), Permission: auth.Permission(req.PermissionType),
	}
	if r.version == 0 && (f.PatternType == auth.PatternAny || f.PatternType == auth.PatternUnknown) {
		f.PatternType = auth.PatternLiteral
	}
	if err := auth.ValidFilter(f); err != nil {
		resp.ErrorCode = kerr.InvalidRequest.Code
		resp.ErrorMessage = kmsg.StringPtr(err.Error())
		return resp, nil
	}
	type key struct {
		rt   auth.ResourceType
		name string
		pt   auth.PatternType
	}
	index := map[key]int{}
	for _, b := range toBindings(sec.acls.List()) {
		if !f.Matches(b) {
			continue
		}
		k := key{b.ResourceType, b.ResourceName, b.PatternType}
		i, ok := index[k]
		if !ok {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName, res.ResourcePatternType = kmsg.ACLResourceType(k.rt), k.name, kmsg.ACLResourcePatternType(k.pt)
			resp.Resources = append(resp.Resources, res)
			i = len(resp.Resources) - 1
			index[k] = i
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = b.Principal, b.Host, kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, a)
	}
	return resp, nil
}
