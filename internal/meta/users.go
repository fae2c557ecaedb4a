package meta

// SCRAM credentials, in <dir>/users.json beside meta.json, with the same
// envelope and the same write order (temporary file, fsync, rename, fsync
// the directory):
//
//	{"version":1,"crc32c":<uint32>,"state":{"users":[
//	  {"name":"alice","mechanism":"SCRAM-SHA-256","salt":"<base64>","iterations":4096,
//	   "stored_key":"<base64>","server_key":"<base64>"}, ...]}}
//
// sorted by name then mechanism. Only what RFC 5802 lets a server keep is
// stored: salt, iterations, StoredKey and ServerKey, never a password or a
// salted password. A file that fails its checks makes OpenUsers fail with
// ErrCorrupt.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/chronik-stream/chronik/internal/vfs"
)

const usersFile = "users.json"

// SCRAMCredential is one user's stored credential for one mechanism.
type SCRAMCredential struct {
	User       string
	Mechanism  string // "SCRAM-SHA-256" or "SCRAM-SHA-512"
	Salt       []byte
	Iterations int32
	StoredKey  []byte
	ServerKey  []byte
}

// UserMechanism names one credential (a deletion).
type UserMechanism struct {
	User      string
	Mechanism string
}

// Users holds the SCRAM credentials. It is safe for concurrent use; a change
// is on disk when it returns, and a failed change changes nothing in memory.
type Users struct {
	fsys vfs.FS
	dir  string

	mu    sync.RWMutex
	creds map[UserMechanism]SCRAMCredential // never mutated once published
}

type fileUsers struct {
	Users []fileCredential `json:"users"`
}

type fileCredential struct {
	Name       string `json:"name"`
	Mechanism  string `json:"mechanism"`
	Salt       []byte `json:"salt"` // base64 (encoding/json's []byte form)
	Iterations int32  `json:"iterations"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

// OpenUsers loads the credentials in dir (none if there is no file yet).
func OpenUsers(fsys vfs.FS, dir string) (*Users, error) {
	u := &Users{fsys: fsys, dir: dir, creds: map[UserMechanism]SCRAMCredential{}}
	var st fileUsers
	found, err := openSealed(fsys, dir, usersFile, &st)
	if err != nil || !found {
		return u, err
	}
	for _, c := range st.Users {
		k := UserMechanism{c.Name, c.Mechanism}
		switch {
		case c.Name == "" || c.Mechanism == "":
			return nil, corrupt("%s: credential without a name or mechanism", usersFile)
		case len(c.Salt) == 0 || c.Iterations <= 0 || len(c.StoredKey) == 0 || len(c.ServerKey) == 0:
			return nil, corrupt("%s: credential of %q (%s) is incomplete", usersFile, c.Name, c.Mechanism)
		}
		if _, dup := u.creds[k]; dup {
			return nil, corrupt("%s: duplicate credential of %q (%s)", usersFile, c.Name, c.Mechanism)
		}
		u.creds[k] = SCRAMCredential{User: c.Name, Mechanism: c.Mechanism, Salt: c.Salt, Iterations: c.Iterations, StoredKey: c.StoredKey, ServerKey: c.ServerKey}
	}
	return u, nil
}

// Credential returns user's credential for mechanism.
func (u *Users) Credential(user, mechanism string) (SCRAMCredential, bool) {
	u.mu.RLock()
	c, ok := u.creds[UserMechanism{user, mechanism}]
	u.mu.RUnlock()
	return c, ok
}

// List returns every credential, sorted by user then mechanism.
func (u *Users) List() []SCRAMCredential {
	u.mu.RLock()
	out := make([]SCRAMCredential, 0, len(u.creds))
	for _, c := range u.creds {
		out = append(out, c)
	}
	u.mu.RUnlock()
	slices.SortFunc(out, func(a, b SCRAMCredential) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Mechanism, b.Mechanism))
	})
	return out
}

// Alter applies deletions and upserts together, in one durable write.
// Deleting a credential that does not exist is not an error here (the
// broker checks that first, with Kafka's error).
func (u *Users) Alter(upserts []SCRAMCredential, deletes []UserMechanism) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	next := make(map[UserMechanism]SCRAMCredential, len(u.creds)+len(upserts))
	for k, v := range u.creds {
		next[k] = v
	}
	for _, d := range deletes {
		delete(next, d)
	}
	for _, c := range upserts {
		if c.User == "" || c.Mechanism == "" {
			return fmt.Errorf("meta: credential without a user or mechanism")
		}
		c.Salt = bytes.Clone(c.Salt)
		c.StoredKey, c.ServerKey = bytes.Clone(c.StoredKey), bytes.Clone(c.ServerKey)
		next[UserMechanism{c.User, c.Mechanism}] = c
	}
	st := fileUsers{Users: []fileCredential{}}
	keys := make([]UserMechanism, 0, len(next))
	for k := range next {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b UserMechanism) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Mechanism, b.Mechanism))
	})
	for _, k := range keys {
		c := next[k]
		st.Users = append(st.Users, fileCredential{Name: c.User, Mechanism: c.Mechanism, Salt: c.Salt, Iterations: c.Iterations, StoredKey: c.StoredKey, ServerKey: c.ServerKey})
	}
	if err := writeSealed(u.fsys, u.dir, usersFile, st); err != nil {
		return err
	}
	u.creds = next
	return nil
}

// ---- sealed files: meta.json's envelope for the other metadata files ----

// writeSealed writes state as dir/name inside the {"version","crc32c",
// "state"} envelope, atomically: name.tmp, fsync, rename, fsync dir.
func writeSealed(fsys vfs.FS, dir, name string, state any) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(state); err != nil {
		return fmt.Errorf("meta: encoding %s: %w", name, err)
	}
	st := bytes.TrimRight(body.Bytes(), "\n")
	var out bytes.Buffer
	out.WriteString(`{"version":` + strconv.Itoa(formatVersion))
	out.WriteString(`,"crc32c":` + strconv.FormatUint(uint64(crc32.Checksum(st, castagnoli)), 10))
	out.WriteString(`,"state":`)
	out.Write(st)
	out.WriteString("}\n")

	if err := mkdirAllDurable(fsys, dir); err != nil {
		return fmt.Errorf("meta: creating %s: %w", dir, err)
	}
	tmp, final := filepath.Join(dir, name+".tmp"), filepath.Join(dir, name)
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("meta: writing %s: %w", final, err)
	}
	if _, err := f.Write(out.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("meta: writing %s: %w", final, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("meta: writing %s: %w", final, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("meta: writing %s: %w", final, err)
	}
	if err := fsys.Rename(tmp, final); err != nil {
		return fmt.Errorf("meta: writing %s: %w", final, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("meta: writing %s: %w", final, err)
	}
	return nil
}

// openSealed reads dir/name into state. It removes a leftover name.tmp (an
// unfinished write) and reports false when the file does not exist.
func openSealed(fsys vfs.FS, dir, name string, state any) (bool, error) {
	tmp, path := filepath.Join(dir, name+".tmp"), filepath.Join(dir, name)
	if _, _, err := fsys.Stat(tmp); err == nil {
		if err := fsys.Remove(tmp); err != nil {
			return false, fmt.Errorf("meta: removing %s: %w", tmp, err)
		}
	}
	data, err := readFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("meta: reading %s: %w", path, err)
	}
	var head struct {
		Version *int            `json:"version"`
		CRC     *uint32         `json:"crc32c"`
		State   json.RawMessage `json:"state"`
	}
	if err := strictDecode(data, &head); err != nil {
		return false, fmt.Errorf("%w (file %s)", corrupt("%v", err), path)
	}
	if head.Version == nil || head.CRC == nil || head.State == nil {
		return false, fmt.Errorf("%w (file %s)", corrupt("missing version, crc32c or state"), path)
	}
	if *head.Version != formatVersion {
		return false, fmt.Errorf("%w (file %s)", corrupt("unsupported format version %d", *head.Version), path)
	}
	if got := crc32.Checksum(head.State, castagnoli); got != *head.CRC {
		return false, fmt.Errorf("%w (file %s)", corrupt("state checksum %d, want %d", got, *head.CRC), path)
	}
	if err := strictDecode(head.State, state); err != nil {
		return false, fmt.Errorf("%w (file %s)", corrupt("state: %v", err), path)
	}
	return true, nil
}
