package meta

import (
	"errors"
	"testing"

	"github.com/chronik-stream/chronik/internal/vfs"
)

func cred(user, mech string, b byte) SCRAMCredential {
	return SCRAMCredential{User: user, Mechanism: mech, Salt: []byte{b, 1}, Iterations: 4096, StoredKey: []byte{b, 2}, ServerKey: []byte{b, 3}}
}

func TestUsersPersist(t *testing.T) {
	fs := vfs.NewMemFS()
	u, err := OpenUsers(fs, "/m")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Alter([]SCRAMCredential{cred("alice", "SCRAM-SHA-256", 1), cred("bob", "SCRAM-SHA-512", 2)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := u.Alter([]SCRAMCredential{cred("alice", "SCRAM-SHA-512", 3)}, []UserMechanism{{"bob", "SCRAM-SHA-512"}}); err != nil {
		t.Fatal(err)
	}
	// Only what was synced survives a power loss; both changes were.
	u2, err := OpenUsers(fs.Crash(), "/m")
	if err != nil {
		t.Fatal(err)
	}
	got := u2.List()
	if len(got) != 2 || got[0].Mechanism != "SCRAM-SHA-256" || got[1].Mechanism != "SCRAM-SHA-512" || got[1].Salt[0] != 3 {
		t.Fatalf("after restart: %+v", got)
	}
	if _, ok := u2.Credential("bob", "SCRAM-SHA-512"); ok {
		t.Fatal("deleted credential came back")
	}

	// A failed write changes nothing in memory.
	fs.SetHook(func(op vfs.Op, _ string) error {
		if op == vfs.OpSync {
			return errors.New("disk full")
		}
		return nil
	})
	if err := u.Alter([]SCRAMCredential{cred("carol", "SCRAM-SHA-256", 4)}, nil); err == nil {
		t.Fatal("Alter succeeded on a failing disk")
	}
	if _, ok := u.Credential("carol", "SCRAM-SHA-256"); ok {
		t.Fatal("failed Alter changed memory")
	}
	fs.SetHook(nil)

	// A damaged file is refused, never read as empty.
	data, _ := fs.ReadFile("/m/users.json")
	data[len(data)/2] ^= 0x20
	fs.WriteFile("/m/users.json", data)
	if _, err := OpenUsers(fs, "/m"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt users.json: %v", err)
	}
}

func TestACLsPersist(t *testing.T) {
	fs := vfs.NewMemFS()
	s, err := OpenACLs(fs, "/m")
	if err != nil {
		t.Fatal(err)
	}
	a := ACL{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 3}
	b := a
	b.Operation = 4
	if _, err := s.Update(func(cur []ACL) []ACL { return append(cur, a, b, a) }); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenACLs(fs.Crash(), "/m")
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.List(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("after restart: %+v", got)
	}
}
