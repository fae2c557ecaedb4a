package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// File names in the metadata directory.
const (
	fileName = "meta.json"
	tmpName  = "meta.json.tmp"
)

// formatVersion is the version of the file layout (see doc.go). A reader
// refuses versions it does not know rather than guess.
const formatVersion = 1

// maxFileSize bounds what Open reads, so a damaged size can't exhaust
// memory. A topic costs about 100 bytes plus its overrides.
const maxFileSize = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// image is one complete, immutable metadata state: what a file holds. A
// change builds a new image; maps in a committed image are never written.
type image struct {
	clusterID string
	// pidBlockEnd is the producer id high-water mark: no id at or above it
	// has been handed out, and every id below it may have been.
	pidBlockEnd int64
	topics      map[string]Topic
}

// fileState is the "state" object of the file.
type fileState struct {
	ClusterID          string      `json:"cluster_id"`
	ProducerIDBlockEnd int64       `json:"producer_id_block_end"`
	Topics             []fileTopic `json:"topics"`
}

type fileTopic struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"` // Kafka's base64url form
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// encode renders img as the file's bytes.
func encode(img image) []byte {
	st := fileState{ClusterID: img.clusterID, ProducerIDBlockEnd: img.pidBlockEnd, Topics: []fileTopic{}}
	for _, name := range slices.Sorted(maps.Keys(img.topics)) {
		t := img.topics[name]
		ft := fileTopic{Name: t.Name, ID: EncodeUUID(t.ID), Partitions: t.Partitions}
		if len(t.Configs) > 0 {
			ft.Configs = t.Configs
		}
		st.Topics = append(st.Topics, ft)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	// Compact: the file is one line (see doc.go).
	if err := enc.Encode(st); err != nil {
		panic("meta: encoding metadata: " + err.Error()) // only strings and numbers: cannot fail
	}
	state := bytes.TrimRight(body.Bytes(), "\n")
	// The checksum covers the exact bytes of "state" as they appear in the
	// file, so the reader can check them before decoding anything.
	var out bytes.Buffer
	out.Grow(len(state) + 64)
	out.WriteString(`{"version":` + strconv.Itoa(formatVersion))
	out.WriteString(`,"crc32c":` + strconv.FormatUint(uint64(crc32.Checksum(state, castagnoli)), 10))
	out.WriteString(`,"state":`)
	out.Write(state)
	out.WriteString("}\n")
	return out.Bytes()
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// strictDecode decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// decode parses and validates a file. Every failure wraps ErrCorrupt.
func decode(data []byte) (image, error) {
	var head struct {
		Version *int            `json:"version"`
		CRC     *uint32         `json:"crc32c"`
		State   json.RawMessage `json:"state"`
	}
	if err := strictDecode(data, &head); err != nil {
		return image{}, corrupt("%v", err)
	}
	if head.Version == nil || head.CRC == nil || head.State == nil {
		return image{}, corrupt("missing version, crc32c or state")
	}
	if *head.Version != formatVersion {
		return image{}, corrupt("unsupported format version %d (this build reads %d)", *head.Version, formatVersion)
	}
	if got := crc32.Checksum(head.State, castagnoli); got != *head.CRC {
		return image{}, corrupt("state checksum %d, want %d", got, *head.CRC)
	}
	var st fileState
	if err := strictDecode(head.State, &st); err != nil {
		return image{}, corrupt("state: %v", err)
	}
	return validateState(st)
}

// validateState checks what the writer guarantees. Config values are not
// re-validated: the rules change between versions, and a topic must not
// become unloadable because a later release tightened one; the effective
// config falls back to the default for a value that no longer parses.
func validateState(st fileState) (image, error) {
	if _, err := DecodeUUID(st.ClusterID); err != nil {
		return image{}, corrupt("cluster id: %v", err)
	}
	if st.ProducerIDBlockEnd < 0 {
		return image{}, corrupt("negative producer id block end %d", st.ProducerIDBlockEnd)
	}
	img := image{clusterID: st.ClusterID, pidBlockEnd: st.ProducerIDBlockEnd, topics: make(map[string]Topic, len(st.Topics))}
	ids := make(map[[16]byte]bool, len(st.Topics))
	keys := make(map[string]bool, len(st.Topics))
	for _, ft := range st.Topics {
		if err := ValidateTopicName(ft.Name); err != nil {
			return image{}, corrupt("topic %q: %v", ft.Name, err)
		}
		if keys[collisionKey(ft.Name)] {
			return image{}, corrupt("topic %q: duplicate or colliding name", ft.Name)
		}
		keys[collisionKey(ft.Name)] = true
		id, err := DecodeUUID(ft.ID)
		if err != nil {
			return image{}, corrupt("topic %q: %v", ft.Name, err)
		}
		if id == zeroUUID || ids[id] {
			return image{}, corrupt("topic %q: zero or duplicate id %s", ft.Name, ft.ID)
		}
		ids[id] = true
		if ft.Partitions < 1 {
			return image{}, corrupt("topic %q: %d partitions", ft.Name, ft.Partitions)
		}
		for k := range ft.Configs {
			if k == "" {
				return image{}, corrupt("topic %q: empty config name", ft.Name)
			}
		}
		img.topics[ft.Name] = Topic{Name: ft.Name, ID: id, Partitions: ft.Partitions, Configs: ft.Configs}
	}
	return img, nil
}

// readFile returns the contents of name, or an error wrapping
// fs.ErrNotExist if there is no such file.
func readFile(fsys vfs.FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size > maxFileSize {
		return nil, corrupt("%s is %d bytes, over the %d limit", name, size, maxFileSize)
	}
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, 0)
	if n == len(buf) {
		return buf, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// writeFileAtomic replaces dir/fileName with data so that a crash at any
// point leaves the old file or the new one: write a temporary file, fsync
// it, rename it over the old one, fsync the directory (DESIGN "one order").
func writeFileAtomic(fsys vfs.FS, dir string, data []byte) error {
	tmp, final := filepath.Join(dir, tmpName), filepath.Join(dir, fileName)
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, final); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// mkdirAllDurable creates dir and any missing parents, then fsyncs the
// parent of each directory it created so the new entries survive a crash.
func mkdirAllDurable(fsys vfs.FS, dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, isDir, err := fsys.Stat(d)
		if err == nil {
			if !isDir {
				return fmt.Errorf("meta: %s is not a directory", d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range created {
		if err := fsys.SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}
