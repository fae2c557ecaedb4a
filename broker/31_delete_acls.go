package broker

// DeleteAcls: v0-v3.
//
// Behavior: deletes every stored binding each filter selects (Kafka's
// filter semantics, internal/auth) and lists them per filter, all in one
// durable write. A filter with UNKNOWN elements is INVALID_REQUEST. Needs
// ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every filter).
// Without an authorizer: SECURITY_DISABLED.
//
// Version notes: v0 filters have no pattern type (LITERAL; ANY is treated
// as LITERAL, as Kafka does); v1 adds pattern types; v2 is flexible; v3
// adds the USER resource type.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.DeleteACLs, 0, 3, handleDeleteACLs) }

func handleDeleteACLs(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	sec := r.c.b.sec
	results := make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range results {
		results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	resp.Results = results
	fail := func(code int16, msg string) (kmsg.Response, error) {
		for i := range results {
			results[i].ErrorCode, results[i].ErrorMessage = code, kmsg.StringPtr(msg)
		}
		return resp, nil
	}
	if !r.authorizeCluster(auth.OpAlter) {
		return fail(kerr.ClusterAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Description)
	}
	if sec.authz == nil {
		return fail(kerr.SecurityDisabled.Code, "No Authorizer is configured.")
	}
	filters := make([]*auth.Filter, len(req.Filters))
	for i, rf := range req.Filters {
		f := auth.Filter{
			ResourceType: auth.ResourceType(rf.ResourceType), ResourceName: rf.ResourceName, PatternType: auth.PatternType(rf.ResourcePatternType),
			Principal: rf.Principal, Host: rf.Host, Operation: auth.Operation(rf.Operation), Permission: auth.Permission(rf.PermissionType),
		}
		if r.version == 0 && (f.PatternType == auth.PatternAny || f.PatternType == auth.PatternUnknown) {
			f.PatternType = auth.PatternLiteral
		}
		if err := auth.ValidFilter(f); err != nil {
			results[i].ErrorCode, results[i].ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(err.Error())
			continue
		}
		filters[i] = &f
	}
	matched := make([][]auth.Binding, len(filters))
	err := sec.updateACLs(func(cur []meta.ACL) []meta.ACL {
		keep := cur[:0:0]
		for _, a := range cur {
			b := toBindings([]meta.ACL{a})[0]
			hit := false
			for i, f := range filters {
				if f != nil && f.Matches(b) {
					matched[i] = append(matched[i], b)
					hit = true
				}
			}
			if !hit {
				keep = append(keep, a)
			}
		}
		return keep
	})
	if err != nil {
		r.c.log.Error("storing ACLs failed", "err", err)
		return fail(errorCode(err), "Storing the ACLs failed")
	}
	n := 0
	for i, bs := range matched {
		for _, b := range bs {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
			m.Principal, m.Host, m.Operation, m.PermissionType = b.Principal, b.Host, kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
			results[i].MatchingACLs = append(results[i].MatchingACLs, m)
			n++
		}
	}
	if n > 0 {
		r.c.log.Info("ACLs deleted", "count", n, "principal", r.c.auth.principal)
	}
	return resp, nil
}
