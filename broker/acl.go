package broker

// Authorization: the request-side helpers over internal/auth's Authorizer.
// Without an authorizer (Config.Authorizer false, Kafka's empty
// authorizer.class.name) every request is allowed, as in Kafka.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/meta"
)

// authorize reports whether the request's principal may perform op on the
// resource.
func (r *request) authorize(op auth.Operation, rt auth.ResourceType, name string) bool {
	a := r.c.b.sec.authz
	if a == nil {
		return true
	}
	if a.Authorize(r.c.auth.principal, r.c.auth.host, op, rt, name) {
		return true
	}
	r.c.log.Debug("not authorized", "principal", r.c.auth.principal, "api", kmsg.NameForKey(r.key), "operation", op, "resource_type", rt, "resource", name)
	return false
}

// authorizeCluster authorizes op on the cluster resource.
func (r *request) authorizeCluster(op auth.Operation) bool {
	return r.authorize(op, auth.ResourceCluster, auth.ClusterName)
}

func toBindings(acls []meta.ACL) []auth.Binding {
	out := make([]auth.Binding, len(acls))
	for i, a := range acls {
		out[i] = auth.Binding{
			ResourceType: auth.ResourceType(a.ResourceType), ResourceName: a.ResourceName, PatternType: auth.PatternType(a.PatternType),
			Principal: a.Principal, Host: a.Host, Operation: auth.Operation(a.Operation), Permission: auth.Permission(a.Permission),
		}
	}
	return out
}

func fromBinding(b auth.Binding) meta.ACL {
	return meta.ACL{
		ResourceType: int8(b.ResourceType), ResourceName: b.ResourceName, PatternType: int8(b.PatternType),
		Principal: b.Principal, Host: b.Host, Operation: int8(b.Operation), Permission: int8(b.Permission),
	}
}
