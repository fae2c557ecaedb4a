package broker

// DescribeUserScramCredentials: v0.
//
// Behavior (KIP-554): lists each user's SCRAM mechanisms and iteration
// counts (never salts or keys); no users, or a null list, means every user
// with a credential. A user asked for twice gets DUPLICATE_RESOURCE, one
// without credentials RESOURCE_NOT_FOUND, with Kafka's messages. Needs
// DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED otherwise). PLAIN
// users from the configuration are not SCRAM credentials and are not
// listed.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

func init() { regKey(kmsg.DescribeUserSCRAMCredentials, 0, 0, handleDescribeUserSCRAMCredentials) }

func handleDescribeUserSCRAMCredentials(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !r.authorizeCluster(auth.OpDescribe) {
		// As Kafka's getErrorResponse: the error at the top and on every
		// requested user.
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(kerr.ClusterAuthorizationFailed.Description)
		for _, u := range req.Users {
			res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode, res.ErrorMessage = u.Name, resp.ErrorCode, resp.ErrorMessage
			resp.Results = append(resp.Results, res)
		}
		return resp, nil
	}
	byUser := map[string][]kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{}
	for _, c := range r.c.b.sec.users.List() {
		m := auth.SCRAMByName(c.Mechanism)
		if m == nil {
			continue
		}
		ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
		ci.Mechanism, ci.Iterations = m.Type(), c.Iterations
		byUser[c.User] = append(byUser[c.User], ci)
	}
	var names []string
	dup := map[string]bool{}
	if len(req.Users) == 0 {
		for u := range byUser {
			names = append(names, u)
		}
		slices.Sort(names)
	} else {
		seen := map[string]bool{}
		for _, u := range req.Users {
			if seen[u.Name] {
				dup[u.Name] = true
				continue
			}
			seen[u.Name] = true
			names = append(names, u.Name)
		}
	}
	for _, name := range names {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		switch infos, ok := byUser[name]; {
		case dup[name]:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + name)
		case !ok:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + name)
		default:
			res.CredentialInfos = infos
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
