package broker_test

import (
	"errors"
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-stream/chronik/broker"
)

// TestGroupACLs: the ACL hooks (acl_hooks.go) see the group APIs'
// finished responses, although those are filled on the connection's
// writer (r.wait).
func TestGroupACLs(t *testing.T) {
	t.Parallel()
	if os.Getenv("CHRONIK_GROUP_ACL_TEST") == "" {
		t.Skip("needs request.handle to run an ACL hook's post after r.wait (see the group coordinator's hand-over notes); CHRONIK_GROUP_ACL_TEST=1 runs it")
	}
	_, addr := startGroupBroker(t, func(c *broker.Config) {
		c.Authorizer = true
		c.AllowEveryoneIfNoACLFound = true
	})
	adm := kadm.NewClient(newFranz(t, addr))
	ctx := testCtx(t)
	createTopic(t, addr, "open", 2, nil)
	createTopic(t, addr, "secret", 2, nil)
	if err := adm.CommitAllOffsets(ctx, "hidden", kadmOffsets(map[string][]int64{"open": {1, 2}})); err != nil {
		t.Fatal(err)
	}
	if err := adm.CommitAllOffsets(ctx, "g", kadmOffsets(map[string][]int64{"open": {1, 2}, "secret": {3, 4}})); err != nil {
		t.Fatal(err)
	}
	deny := kadm.NewACLs().Topics("secret").Groups("hidden").Deny("User:ANONYMOUS").DenyHosts("*").
		Operations(kadm.OpRead, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	// Without DESCRIBE on the cluster, ListGroups shows only describable
	// groups.
	denyCluster := kadm.NewACLs().Clusters().Deny("User:ANONYMOUS").DenyHosts("*").
		Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	for _, b := range []*kadm.ACLBuilder{deny, denyCluster} {
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}

	// A commit to an allowed and a denied topic: each gets its answer.
	resp, err := adm.CommitOffsets(ctx, "g", kadmOffsets(map[string][]int64{"open": {5, 6}, "secret": {7, 8}}))
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := resp.Lookup("open", 1); o.Err != nil {
		t.Fatalf("commit to an allowed topic: %v", o.Err)
	}
	if o, _ := resp.Lookup("secret", 1); !errors.Is(o.Err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("commit to a denied topic: %v", o.Err)
	}
	// Fetching everything does not reveal the denied topic.
	got, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Lookup("secret", 0); ok {
		t.Fatalf("offsets of a denied topic revealed: %+v", got)
	}
	if o, _ := got.Lookup("open", 1); o.At != 6 {
		t.Fatalf("open/1: %+v", o)
	}
	// Listing does not reveal the denied group.
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed["hidden"]; ok || len(listed) != 1 {
		t.Fatalf("listed %+v", listed)
	}
}
