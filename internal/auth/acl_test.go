package auth

import "testing"

func TestAuthorize(t *testing.T) {
	allow := func(rt ResourceType, name string, pt PatternType, principal string, op Operation) Binding {
		return Binding{rt, name, pt, principal, "*", op, PermAllow}
	}
	deny := func(rt ResourceType, name string, pt PatternType, principal string, op Operation) Binding {
		return Binding{rt, name, pt, principal, "*", op, PermDeny}
	}
	a := NewAuthorizer([]string{"User:admin"}, false)
	a.Set([]Binding{
		allow(ResourceTopic, "orders", PatternLiteral, "User:alice", OpRead),
		allow(ResourceTopic, "logs-", PatternPrefixed, "User:alice", OpWrite),
		deny(ResourceTopic, "logs-secret", PatternLiteral, "User:alice", OpWrite),
		allow(ResourceTopic, "*", PatternLiteral, "User:*", OpAlterConfigs),
		deny(ResourceTopic, "orders", PatternLiteral, "User:bob", OpRead),
		allow(ResourceTopic, "orders", PatternLiteral, "User:bob", OpAll),
		allow(ResourceGroup, "g", PatternLiteral, "User:carol", OpRead),
		{ResourceGroup, "h", PatternLiteral, "User:carol", "10.0.0.1", OpRead, PermAllow},
		allow(ResourceCluster, ClusterName, PatternLiteral, "User:carol", OpIdempotentWrite),
	})
	for _, c := range []struct {
		principal, host string
		op              Operation
		rt              ResourceType
		name            string
		want            bool
	}{
		{"User:alice", "1.2.3.4", OpRead, ResourceTopic, "orders", true},
		{"User:alice", "1.2.3.4", OpDescribe, ResourceTopic, "orders", true}, // READ implies DESCRIBE
		{"User:alice", "1.2.3.4", OpWrite, ResourceTopic, "orders", false},
		{"User:alice", "1.2.3.4", OpWrite, ResourceTopic, "logs-app", true},
		{"User:alice", "1.2.3.4", OpDescribe, ResourceTopic, "logs-app", true},
		{"User:alice", "1.2.3.4", OpWrite, ResourceTopic, "logs-secret", false},   // deny wins
		{"User:alice", "1.2.3.4", OpDescribe, ResourceTopic, "logs-secret", true}, // a deny of WRITE does not deny DESCRIBE
		{"User:alice", "1.2.3.4", OpWrite, ResourceTopic, "log", false},
		{"User:dave", "1.2.3.4", OpDescribeConfigs, ResourceTopic, "anything", true}, // ALTER_CONFIGS implies DESCRIBE_CONFIGS
		{"User:dave", "1.2.3.4", OpDescribe, ResourceTopic, "anything", false},
		{"User:bob", "1.2.3.4", OpRead, ResourceTopic, "orders", false}, // deny READ beats ALL
		{"User:bob", "1.2.3.4", OpWrite, ResourceTopic, "orders", true},
		{"User:carol", "1.2.3.4", OpRead, ResourceGroup, "g", true},
		{"User:carol", "1.2.3.4", OpRead, ResourceGroup, "h", false}, // host
		{"User:carol", "10.0.0.1", OpRead, ResourceGroup, "h", true},
		{"User:carol", "1.2.3.4", OpRead, ResourceGroup, "other", false}, // no ACL: allow.everyone false
		{"User:carol", "1.2.3.4", OpIdempotentWrite, ResourceCluster, ClusterName, true},
		{"User:carol", "1.2.3.4", OpCreate, ResourceCluster, ClusterName, false},
		{"User:admin", "1.2.3.4", OpDelete, ResourceTopic, "orders", true}, // super user
		{"User:eve", "1.2.3.4", OpRead, ResourceTransactionalID, "t", false},
	} {
		if got := a.Authorize(c.principal, c.host, c.op, c.rt, c.name); got != c.want {
			t.Errorf("%s@%s %s %s %q: %v, want %v", c.principal, c.host, c.op, c.rt, c.name, got, c.want)
		}
	}

	open := NewAuthorizer(nil, true)
	open.Set([]Binding{allow(ResourceTopic, "private", PatternLiteral, "User:alice", OpRead)})
	if !open.Authorize("User:bob", "h", OpRead, ResourceTopic, "public") {
		t.Error("allow.everyone.if.no.acl.found: a resource without ACLs must be open")
	}
	if open.Authorize("User:bob", "h", OpRead, ResourceTopic, "private") {
		t.Error("a resource with ACLs is closed to principals they do not allow")
	}
}

func TestFilterMatches(t *testing.T) {
	s := func(v string) *string { return &v }
	lit := Binding{ResourceTopic, "orders", PatternLiteral, "User:a", "*", OpRead, PermAllow}
	wild := Binding{ResourceTopic, "*", PatternLiteral, "User:a", "*", OpRead, PermAllow}
	pre := Binding{ResourceTopic, "ord", PatternPrefixed, "User:a", "*", OpWrite, PermDeny}
	any := Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermAny}
	for i, c := range []struct {
		f    Filter
		b    Binding
		want bool
	}{
		{any, lit, true},
		{Filter{ResourceTopic, s("orders"), PatternMatch, nil, nil, OpAny, PermAny}, lit, true},
		{Filter{ResourceTopic, s("orders"), PatternMatch, nil, nil, OpAny, PermAny}, wild, true},
		{Filter{ResourceTopic, s("orders"), PatternMatch, nil, nil, OpAny, PermAny}, pre, true},
		{Filter{ResourceTopic, s("other"), PatternMatch, nil, nil, OpAny, PermAny}, pre, false},
		{Filter{ResourceTopic, s("orders"), PatternLiteral, nil, nil, OpAny, PermAny}, wild, false},
		{Filter{ResourceTopic, s("ord"), PatternAny, nil, nil, OpAny, PermAny}, pre, true},
		{Filter{ResourceGroup, nil, PatternAny, nil, nil, OpAny, PermAny}, lit, false},
		{Filter{ResourceAny, nil, PatternAny, s("User:b"), nil, OpAny, PermAny}, lit, false},
		{Filter{ResourceAny, nil, PatternAny, nil, s("*"), OpRead, PermAllow}, lit, true},
		{Filter{ResourceAny, nil, PatternAny, nil, nil, OpRead, PermDeny}, lit, false},
	} {
		if got := c.f.Matches(c.b); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}

func TestValidBinding(t *testing.T) {
	ok := Binding{ResourceTopic, "t", PatternLiteral, "User:a", "*", OpRead, PermAllow}
	if err := ValidBinding(ok); err != nil {
		t.Fatal(err)
	}
	for _, mod := range []func(*Binding){
		func(b *Binding) { b.ResourceType = ResourceAny },
		func(b *Binding) { b.PatternType = PatternMatch },
		func(b *Binding) { b.Operation = OpAny },
		func(b *Binding) { b.Permission = PermAny },
		func(b *Binding) { b.ResourceName = "" },
		func(b *Binding) { b.Principal = "alice" },
		func(b *Binding) { b.ResourceType, b.ResourceName = ResourceCluster, "c" },
	} {
		b := ok
		mod(&b)
		if ValidBinding(b) == nil {
			t.Errorf("%v accepted", b)
		}
	}
}
