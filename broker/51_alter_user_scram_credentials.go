package broker

// AlterUserScramCredentials: v0.
//
// Behavior (KIP-554), with Kafka's validation and messages: a user may
// appear once in a request (DUPLICATE_RESOURCE "A user credential cannot be
// altered twice in the same request"); names must not be empty and
// iterations must be in [4096, 16384] (UNACCEPTABLE_CREDENTIAL); mechanisms
// other than SCRAM-SHA-256 (1) and SCRAM-SHA-512 (2) get
// UNSUPPORTED_SASL_MECHANISM; deleting a credential that does not exist is
// RESOURCE_NOT_FOUND. We also refuse an empty salt or salted password
// (UNACCEPTABLE_CREDENTIAL), which Kafka would store. The client sends the
// salted password; we keep only StoredKey and ServerKey derived from it
// (internal/meta users.json). Every accepted change lands in one durable
// write. Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every
// user otherwise).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.AlterUserSCRAMCredentials, 0, 0, handleAlterUserSCRAMCredentials) }

func handleAlterUserSCRAMCredentials(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	users := r.c.b.sec.users

	type outcome struct {
		code int16
		msg  string
	}
	var order []string
	results := map[string]*outcome{}
	note := func(user string, o *outcome) {
		if _, seen := results[user]; !seen {
			order = append(order, user)
		}
		results[user] = o
	}
	if !r.authorizeCluster(auth.OpAlter) {
		for _, d := range req.Deletions {
			note(d.Name, &outcome{kerr.ClusterAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Description})
		}
		for _, u := range req.Upsertions {
			note(u.Name, &outcome{kerr.ClusterAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Description})
		}
		for _, u := range order {
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode, res.ErrorMessage = u, results[u].code, kmsg.StringPtr(results[u].msg)
			resp.Results = append(resp.Results, res)
		}
		return resp, nil
	}

	dupErr := &outcome{kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request"}
	failed := map[string]bool{}
	deletes := map[string]meta.UserMechanism{}
	upserts := map[string]meta.SCRAMCredential{}
	check := func(name string, mech int8) (*auth.Mechanism, *outcome) {
		if name == "" {
			return nil, &outcome{kerr.UnacceptableCredential.Code, "Username must not be empty"}
		}
		m := auth.SCRAMByType(mech)
		if m == nil {
			return nil, &outcome{kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism"}
		}
		return m, nil
	}
	for _, d := range req.Deletions {
		if failed[d.Name] {
			continue
		}
		if _, dup := deletes[d.Name]; dup {
			delete(deletes, d.Name)
			failed[d.Name] = true
			note(d.Name, dupErr)
			continue
		}
		m, bad := check(d.Name, d.Mechanism)
		if bad == nil {
			if _, ok := users.Credential(d.Name, m.Name()); !ok {
				bad = &outcome{kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist"}
			}
		}
		if bad != nil {
			failed[d.Name] = true
			note(d.Name, bad)
			continue
		}
		deletes[d.Name] = meta.UserMechanism{User: d.Name, Mechanism: m.Name()}
		note(d.Name, &outcome{})
	}
	for _, u := range req.Upsertions {
		if failed[u.Name] {
			continue
		}
		_, inDel := deletes[u.Name]
		_, inUp := upserts[u.Name]
		if inDel || inUp {
			delete(deletes, u.Name)
			delete(upserts, u.Name)
			failed[u.Name] = true
			note(u.Name, dupErr)
			continue
		}
		m, bad := check(u.Name, u.Mechanism)
		switch {
		case bad != nil:
		case u.Iterations < auth.MinIterations:
			bad = &outcome{kerr.UnacceptableCredential.Code, "Too few iterations"}
		case u.Iterations > auth.MaxIterations:
			bad = &outcome{kerr.UnacceptableCredential.Code, "Too many iterations"}
		case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
			bad = &outcome{kerr.UnacceptableCredential.Code, "Salt and salted password must not be empty"}
		}
		if bad != nil {
			failed[u.Name] = true
			note(u.Name, bad)
			continue
		}
		c := m.CredentialFromSaltedPassword(u.Salt, u.SaltedPassword, u.Iterations)
		upserts[u.Name] = meta.SCRAMCredential{User: u.Name, Mechanism: m.Name(), Salt: c.Salt, Iterations: c.Iterations, StoredKey: c.StoredKey, ServerKey: c.ServerKey}
		note(u.Name, &outcome{})
	}
	if len(deletes)+len(upserts) > 0 {
		var ups []meta.SCRAMCredential
		var dels []meta.UserMechanism
		for _, c := range upserts {
			ups = append(ups, c)
		}
		for _, d := range deletes {
			dels = append(dels, d)
		}
		if err := users.Alter(ups, dels); err != nil {
			r.c.log.Error("storing SCRAM credentials failed", "err", err)
			for name, o := range results {
				if o.code == 0 {
					results[name] = &outcome{errorCode(err), "Storing the credentials failed"}
				}
			}
		} else {
			r.c.log.Info("SCRAM credentials altered", "upserted", len(ups), "deleted", len(dels))
		}
	}
	for _, u := range order {
		o := results[u]
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User, res.ErrorCode = u, o.code
		if o.code != 0 {
			res.ErrorMessage = kmsg.StringPtr(o.msg)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
