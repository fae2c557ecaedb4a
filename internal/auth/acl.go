package auth

// Kafka's ACL model, with the semantics of its StandardAuthorizer:
//
//   - A binding names a resource pattern (type, name, LITERAL or PREFIXED),
//     a principal ("User:alice", or "User:*" for everyone), a host (an IP, or
//     "*"), an operation and ALLOW or DENY. A LITERAL name "*" matches every
//     resource of its type.
//   - A request is authorized when some ALLOW binding matches and no DENY
//     binding does: deny wins.
//   - An ALLOW of READ, WRITE, DELETE or ALTER also allows DESCRIBE; an
//     ALLOW of ALTER_CONFIGS also allows DESCRIBE_CONFIGS; ALL allows (or
//     denies) every operation. Implications never extend a DENY: denying READ
//     does not deny DESCRIBE.
//   - Super users are allowed everything. When no binding at all matches the
//     resource (for any principal or operation), the answer is
//     allow.everyone.if.no.acl.found.

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// ResourceType is Kafka's resource type code.
type ResourceType int8

// Resource types.
const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// PatternType is Kafka's resource pattern type code.
type PatternType int8

// Pattern types; ANY and MATCH only appear in filters.
const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operation is Kafka's ACL operation code.
type Operation int8

// Operations.
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

// Permission is Kafka's ACL permission type code.
type Permission int8

// Permissions.
const (
	PermUnknown Permission = 0
	PermAny     Permission = 1
	PermDeny    Permission = 2
	PermAllow   Permission = 3
)

// Wildcards.
const (
	WildcardResource  = "*"
	WildcardPrincipal = "User:*"
	WildcardHost      = "*"
	// ClusterName is the only name of the CLUSTER resource.
	ClusterName = "kafka-cluster"
)

// Binding is one ACL.
type Binding struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType
	Principal    string
	Host         string
	Operation    Operation
	Permission   Permission
}

func (b Binding) String() string {
	return fmt.Sprintf("(pattern=(%s, %q, %s), principal=%q, host=%q, operation=%s, permission=%s)",
		b.ResourceType, b.ResourceName, b.PatternType, b.Principal, b.Host, b.Operation, b.Permission)
}

var resourceNames = map[ResourceType]string{ResourceUnknown: "UNKNOWN", ResourceAny: "ANY", ResourceTopic: "TOPIC", ResourceGroup: "GROUP",
	ResourceCluster: "CLUSTER", ResourceTransactionalID: "TRANSACTIONAL_ID", ResourceDelegationToken: "DELEGATION_TOKEN", ResourceUser: "USER"}

var patternNames = map[PatternType]string{PatternUnknown: "UNKNOWN", PatternAny: "ANY", PatternMatch: "MATCH", PatternLiteral: "LITERAL", PatternPrefixed: "PREFIXED"}

var opNames = map[Operation]string{OpUnknown: "UNKNOWN", OpAny: "ANY", OpAll: "ALL", OpRead: "READ", OpWrite: "WRITE", OpCreate: "CREATE",
	OpDelete: "DELETE", OpAlter: "ALTER", OpDescribe: "DESCRIBE", OpClusterAction: "CLUSTER_ACTION", OpDescribeConfigs: "DESCRIBE_CONFIGS",
	OpAlterConfigs: "ALTER_CONFIGS", OpIdempotentWrite: "IDEMPOTENT_WRITE", OpCreateTokens: "CREATE_TOKENS", OpDescribeTokens: "DESCRIBE_TOKENS"}

var permNames = map[Permission]string{PermUnknown: "UNKNOWN", PermAny: "ANY", PermDeny: "DENY", PermAllow: "ALLOW"}

func nameOr[K comparable](m map[K]string, k K, v int8) string {
	if s, ok := m[k]; ok {
		return s
	}
	return fmt.Sprintf("UNKNOWN(%d)", v)
}

func (t ResourceType) String() string { return nameOr(resourceNames, t, int8(t)) }
func (p PatternType) String() string  { return nameOr(patternNames, p, int8(p)) }
func (o Operation) String() string    { return nameOr(opNames, o, int8(o)) }
func (p Permission) String() string   { return nameOr(permNames, p, int8(p)) }

// ParseOperation returns the operation named s (case-insensitive), as
// kafka-acls spells them ("Read", "IdempotentWrite" or "IDEMPOTENT_WRITE").
func ParseOperation(s string) (Operation, bool) {
	n := strings.ToUpper(strings.ReplaceAll(s, "_", ""))
	for o, name := range opNames {
		if o >= OpAll && strings.ReplaceAll(name, "_", "") == n {
			return o, true
		}
	}
	return OpUnknown, false
}

// ValidBinding checks a binding to be stored, with Kafka's messages
// (INVALID_REQUEST for all of them).
func ValidBinding(b Binding) error {
	switch {
	case b.ResourceType < ResourceTopic || b.ResourceType > ResourceUser:
		return fmt.Errorf("Invalid resourceType %s", b.ResourceType)
	case b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed:
		return fmt.Errorf("Invalid patternType %s", b.PatternType)
	case b.Operation < OpAll || b.Operation > OpDescribeTokens:
		return fmt.Errorf("Invalid operation %s", b.Operation)
	case b.Permission != PermAllow && b.Permission != PermDeny:
		return fmt.Errorf("Invalid permissionType %s", b.Permission)
	case b.ResourceName == "":
		return fmt.Errorf("Resource name should not be empty")
	case b.ResourceType == ResourceCluster && b.ResourceName != ClusterName:
		return fmt.Errorf("The only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if err := ValidPrincipal(b.Principal); err != nil {
		return err
	}
	if b.Host == "" {
		return fmt.Errorf("Invalid empty host")
	}
	return nil
}

// ValidPrincipal checks a "Type:name" principal string.
func ValidPrincipal(p string) error {
	typ, name, ok := strings.Cut(p, ":")
	if !ok || typ == "" || name == "" {
		return fmt.Errorf("Could not parse principal from `%s` (no colon is found)", p)
	}
	return nil
}

// Filter selects bindings (DescribeAcls, DeleteAcls). A nil string matches
// any value; ANY codes match any value; pattern MATCH selects the bindings
// that would apply to the named resource (literal name, "*", and prefixes of
// it).
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// ValidFilter checks a filter's codes (Kafka refuses UNKNOWN elements).
func ValidFilter(f Filter) error {
	switch {
	case f.ResourceType <= ResourceUnknown || f.ResourceType > ResourceUser:
		return fmt.Errorf("Invalid resource type filter %s", f.ResourceType)
	case f.PatternType <= PatternUnknown || f.PatternType > PatternPrefixed:
		return fmt.Errorf("Invalid pattern type filter %s", f.PatternType)
	case f.Operation <= OpUnknown || f.Operation > OpDescribeTokens:
		return fmt.Errorf("Invalid operation filter %s", f.Operation)
	case f.Permission <= PermUnknown || f.Permission > PermAllow:
		return fmt.Errorf("Invalid permission type filter %s", f.Permission)
	}
	return nil
}

// Matches reports whether the filter selects b.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != b.PatternType {
		return false
	}
	if f.ResourceName != nil {
		name := *f.ResourceName
		if f.PatternType == PatternAny || f.PatternType == b.PatternType {
			if name != b.ResourceName {
				return false
			}
		} else { // MATCH
			switch b.PatternType {
			case PatternLiteral:
				if name != b.ResourceName && b.ResourceName != WildcardResource {
					return false
				}
			case PatternPrefixed:
				if !strings.HasPrefix(name, b.ResourceName) {
					return false
				}
			default:
				return false
			}
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == PermAny || f.Permission == b.Permission
}

// Authorizer decides requests against a set of bindings. It is safe for
// concurrent use; Set swaps the whole set atomically.
type Authorizer struct {
	mu           sync.RWMutex
	byType       map[ResourceType]*typeACLs
	superUsers   map[string]bool
	allowIfNoACL bool
}

// typeACLs are one resource type's bindings, indexed for lookup.
type typeACLs struct {
	literal  map[string][]Binding // by exact name, "*" included
	prefixed []Binding
}

// NewAuthorizer returns an authorizer with no bindings. superUsers are
// principals ("User:admin") allowed everything.
func NewAuthorizer(superUsers []string, allowEveryoneIfNoACLFound bool) *Authorizer {
	a := &Authorizer{superUsers: map[string]bool{}, allowIfNoACL: allowEveryoneIfNoACLFound, byType: map[ResourceType]*typeACLs{}}
	for _, u := range superUsers {
		a.superUsers[u] = true
	}
	return a
}

// Set replaces the bindings.
func (a *Authorizer) Set(bindings []Binding) {
	byType := map[ResourceType]*typeACLs{}
	for _, b := range bindings {
		t := byType[b.ResourceType]
		if t == nil {
			t = &typeACLs{literal: map[string][]Binding{}}
			byType[b.ResourceType] = t
		}
		if b.PatternType == PatternPrefixed {
			t.prefixed = append(t.prefixed, b)
		} else {
			t.literal[b.ResourceName] = append(t.literal[b.ResourceName], b)
		}
	}
	a.mu.Lock()
	a.byType = byType
	a.mu.Unlock()
}

// IsSuperUser reports whether principal is a super user.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.superUsers[principal] }

// Authorize decides whether principal, connected from host (an IP
// address), may perform op on the resource of type rt named name.
func (a *Authorizer) Authorize(principal, host string, op Operation, rt ResourceType, name string) bool {
	if a.superUsers[principal] {
		return true
	}
	a.mu.RLock()
	t := a.byType[rt]
	a.mu.RUnlock()
	if t == nil {
		return a.allowIfNoACL
	}
	var allowed, found bool
	check := func(bs []Binding) bool { // returns true on a deny
		for _, b := range bs {
			found = true
			switch result(b, principal, host, op) {
			case PermDeny:
				return true
			case PermAllow:
				allowed = true
			}
		}
		return false
	}
	if check(t.literal[name]) {
		return false
	}
	if name != WildcardResource && check(t.literal[WildcardResource]) {
		return false
	}
	for _, b := range t.prefixed {
		if strings.HasPrefix(name, b.ResourceName) && check([]Binding{b}) {
			return false
		}
	}
	if !found {
		return a.allowIfNoACL
	}
	return allowed
}

// AuthorizeAny reports whether principal, from host, may perform op on
// some resource of type rt (Kafka's authorizeByResourceType, used for
// InitProducerId without a transactional id, KIP-679): a super user; or an
// ALLOW binding for op (or ALL) that matches the principal and host, unless
// a DENY for op (or ALL) covers every name (the LITERAL "*" or the empty
// prefix); or, when no binding of the type exists at all,
// allow.everyone.if.no.acl.found.
func (a *Authorizer) AuthorizeAny(principal, host string, op Operation, rt ResourceType) bool {
	if a.superUsers[principal] {
		return true
	}
	a.mu.RLock()
	t := a.byType[rt]
	a.mu.RUnlock()
	if t == nil {
		return a.allowIfNoACL
	}
	allowed := false
	for name, bs := range t.literal {
		for _, b := range bs {
			switch result(b, principal, host, op) {
			case PermDeny:
				if name == WildcardResource {
					return false
				}
			case PermAllow:
				allowed = true
			}
		}
	}
	for _, b := range t.prefixed {
		switch result(b, principal, host, op) {
		case PermDeny:
			if b.ResourceName == "" {
				return false
			}
		case PermAllow:
			allowed = true
		}
	}
	return allowed
}

// result is what one binding of the resource says about the request:
// PermAllow, PermDeny, or PermUnknown when it does not apply.
func result(b Binding, principal, host string, op Operation) Permission {
	if b.Principal != principal && b.Principal != WildcardPrincipal {
		return PermUnknown
	}
	if b.Host != WildcardHost && b.Host != host {
		return PermUnknown
	}
	if b.Operation != OpAll && b.Operation != op {
		if b.Permission != PermAllow {
			return PermUnknown
		}
		switch op {
		case OpDescribe:
			if !slices.Contains([]Operation{OpRead, OpWrite, OpDelete, OpAlter}, b.Operation) {
				return PermUnknown
			}
		case OpDescribeConfigs:
			if b.Operation != OpAlterConfigs {
				return PermUnknown
			}
		default:
			return PermUnknown
		}
	}
	return b.Permission
}
