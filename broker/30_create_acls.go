package broker

// CreateAcls: v0-v3.
//
// Behavior: stores new ACL bindings (an existing identical one is not
// duplicated) in one durable write (internal/meta acls.go), then the
// authorizer uses them. Each creation is checked as Kafka's
// AclControlManager and AclApis do: a concrete resource type, LITERAL or
// PREFIXED, a concrete operation and permission, a non-empty name,
// "kafka-cluster" as the only CLUSTER name, a "Type:name" principal; a bad
// one gets INVALID_REQUEST with Kafka's message and the others still land.
// Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every
// creation). Without an authorizer: SECURITY_DISABLED.
//
// Version notes: v0 has no pattern type (LITERAL); v1 adds PREFIXED
// (KIP-290); v2 is flexible; v3 adds the USER resource type.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.CreateACLs, 0, 3, handleCreateACLs) }

func handleCreateACLs(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	sec := r.c.b.sec
	results := make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	fail := func(code int16, msg string) (kmsg.Response, error) {
		for i := range results {
			results[i] = kmsg.NewCreateACLsResponseResult()
			results[i].ErrorCode, results[i].ErrorMessage = code, kmsg.StringPtr(msg)
		}
		resp.Results = results
		return resp, nil
	}
	if !r.authorizeCluster(auth.OpAlter) {
		return fail(kerr.ClusterAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Description)
	}
	if sec.authz == nil {
		return fail(kerr.SecurityDisabled.Code, "No Authorizer is configured.")
	}
	var add []meta.ACL
	for i, c := range req.Creations {
		results[i] = kmsg.NewCreateACLsResponseResult()
		b := auth.Binding{
			ResourceType: auth.ResourceType(c.ResourceType), ResourceName: c.ResourceName, PatternType: auth.PatternType(c.ResourcePatternType),
			Principal: c.Principal, Host: c.Host, Operation: auth.Operation(c.Operation), Permission: auth.Permission(c.PermissionType),
		}
		if r.version == 0 {
			b.PatternType = auth.PatternLiteral
		}
		if err := auth.ValidBinding(b); err != nil {
			results[i].ErrorCode, results[i].ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(err.Error())
			continue
		}
		add = append(add, fromBinding(b))
	}
	if len(add) > 0 {
		if err := sec.updateACLs(func(cur []meta.ACL) []meta.ACL { return append(cur, add...) }); err != nil {
			r.c.log.Error("storing ACLs failed", "err", err)
			for i := range results {
				if results[i].ErrorCode == 0 {
					results[i].ErrorCode, results[i].ErrorMessage = errorCode(err), kmsg.StringPtr("Storing the ACLs failed")
				}
			}
		} else {
			r.c.log.Info("ACLs created", "count", len(add), "principal", r.c.auth.principal)
		}
	}
	resp.Results = results
	return resp, nil
}
