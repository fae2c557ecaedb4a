package meta

// ACL bindings, in <dir>/acls.json with users.json's envelope and write
// order:
//
//	{"version":1,"crc32c":<uint32>,"state":{"acls":[
//	  {"resource_type":2,"resource_name":"orders","pattern_type":3,
//	   "principal":"User:alice","host":"*","operation":3,"permission":3}, ...]}}
//
// Codes are Kafka's (resource type, pattern type, operation, permission
// type); internal/auth interprets them. Bindings are kept in the order they
// were created, without duplicates.

import (
	"sync"

	"github.com/chronik-stream/chronik/internal/vfs"
)

const aclsFile = "acls.json"

// ACL is one stored binding.
type ACL struct {
	ResourceType int8   `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  int8   `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    int8   `json:"operation"`
	Permission   int8   `json:"permission"`
}

// ACLs holds the bindings. Safe for concurrent use; Update is durable when
// it returns and changes nothing in memory when it fails.
type ACLs struct {
	fsys vfs.FS
	dir  string

	mu   sync.Mutex
	acls []ACL // never mutated once published
}

type fileACLs struct {
	ACLs []ACL `json:"acls"`
}

// OpenACLs loads the bindings in dir (none if there is no file yet).
func OpenACLs(fsys vfs.FS, dir string) (*ACLs, error) {
	s := &ACLs{fsys: fsys, dir: dir}
	var st fileACLs
	if _, err := openSealed(fsys, dir, aclsFile, &st); err != nil {
		return nil, err
	}
	seen := make(map[ACL]bool, len(st.ACLs))
	for _, a := range st.ACLs {
		if seen[a] {
			return nil, corrupt("%s: duplicate binding %+v", aclsFile, a)
		}
		if a.ResourceName == "" || a.Principal == "" || a.Host == "" {
			return nil, corrupt("%s: incomplete binding %+v", aclsFile, a)
		}
		seen[a] = true
	}
	s.acls = st.ACLs
	return s, nil
}

// List returns the bindings (a copy).
func (s *ACLs) List() []ACL {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ACL(nil), s.acls...)
}

// Update replaces the bindings with fn's result, durably. fn gets a copy
// and runs under the store's lock, so updates are serialized; duplicates in
// its result are dropped. The new list is returned.
func (s *ACLs) Update(fn func(cur []ACL) []ACL) ([]ACL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := fn(append([]ACL(nil), s.acls...))
	seen := make(map[ACL]bool, len(next))
	dedup := make([]ACL, 0, len(next))
	for _, a := range next {
		if !seen[a] {
			seen[a] = true
			dedup = append(dedup, a)
		}
	}
	if err := writeSealed(s.fsys, s.dir, aclsFile, fileACLs{ACLs: dedup}); err != nil {
		return nil, err
	}
	s.acls = dedup
	return append([]ACL(nil), dedup...), nil
}
