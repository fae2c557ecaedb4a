package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/chronik-stream/chronik/broker"
)

// DescribeConfigs on the broker lists the security settings in effect,
// under Kafka's names, read-only.
func TestDescribeSecurityConfigs(t *testing.T) {
	_, addr := startBroker(t, func(c *broker.Config) {
		c.SASLMechanisms = []string{"PLAIN", "SCRAM-SHA-512"}
		c.Authorizer = true
		c.AllowEveryoneIfNoACLFound = true
		c.SuperUsers = []string{"User:admin", "User:ops"}
		c.MaxConnections = 5000
		c.MaxConnectionsPerIP = 1000
		c.MaxConnectionsPerIPOverrides = map[string]int{"127.0.0.1": 2000, "10.0.0.5": 50}
	})
	rc, err := kadm.NewClient(newFranz(t, addr)).DescribeBrokerConfigs(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]kadm.Config{}
	for _, r := range rc {
		for _, c := range r.Configs {
			got[c.Key] = c
		}
	}
	want := map[string]string{
		"sasl.enabled.mechanisms":          "PLAIN,SCRAM-SHA-512",
		"super.users":                      "User:admin;User:ops",
		"allow.everyone.if.no.acl.found":   "true",
		"sasl.server.max.receive.size":     "8192", // ours; Kafka's default is 512 KiB
		"connections.max.reauth.ms":        "0",
		"ssl.client.auth":                  "none",
		"max.connections":                  "5000",
		"max.connections.per.ip":           "1000",
		"max.connections.per.ip.overrides": "10.0.0.5:50,127.0.0.1:2000",
	}
	for k, v := range want {
		c, ok := got[k]
		if !ok || c.Value == nil || *c.Value != v {
			t.Errorf("%s: %+v, want %q", k, c, v)
		}
	}
	if c := got["authorizer.class.name"]; c.Value == nil || *c.Value == "" {
		t.Errorf("authorizer.class.name empty with ACLs on: %+v", c)
	}
}
