package meta

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// producerIDBlockSize is how many producer ids one write of the metadata
// file reserves (Kafka's controller hands brokers blocks of 1000 too).
const producerIDBlockSize = 1000

// Store holds the cluster's metadata. It is safe for concurrent use. Every
// change is on disk when the call returns; a failed call changes nothing in
// memory (on disk it may or may not have landed, as with any crash).
type Store struct {
	fsys vfs.FS
	dir  string

	// mu guards everything below. Changes hold it across the file write,
	// so writes are serialized and the file always follows memory.
	mu    sync.RWMutex
	img   image
	byID  map[[16]byte]string
	byKey map[string]string // collisionKey(name) -> name
	// nextPID is the next producer id to hand out; always <= img.pidBlockEnd.
	nextPID int64
}

// Open loads the metadata in dir, through fsys, or creates it (with a new
// cluster id) if dir holds none. A file that fails its checks is an error
// wrapping ErrCorrupt: we never start empty over a damaged file.
func Open(fsys vfs.FS, dir string) (*Store, error) {
	if err := mkdirAllDurable(fsys, dir); err != nil {
		return nil, fmt.Errorf("meta: creating %s: %w", dir, err)
	}
	s := &Store{fsys: fsys, dir: dir}
	// A temporary file is an unfinished write that never became the file.
	tmp := filepath.Join(dir, tmpName)
	if _, _, err := fsys.Stat(tmp); err == nil {
		if err := fsys.Remove(tmp); err != nil {
			return nil, fmt.Errorf("meta: removing %s: %w", tmp, err)
		}
	}
	path := filepath.Join(dir, fileName)
	data, err := readFile(fsys, path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		img := image{clusterID: newClusterID(), topics: map[string]Topic{}}
		if err := s.commit(img, true); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("meta: reading %s: %w", path, err)
	default:
		img, err := decode(data)
		if err != nil {
			return nil, fmt.Errorf("%w (file %s)", err, path)
		}
		s.img = img
		s.reindex()
	}
	// Ids below the persisted mark may have been handed out before a crash.
	s.nextPID = s.img.pidBlockEnd
	return s, nil
}

// commit makes img durable, then current. REQUIRES: s.mu held for writing
// (or s not yet shared).
func (s *Store) commit(img image, topicsChanged bool) error {
	if err := writeFileAtomic(s.fsys, s.dir, encode(img)); err != nil {
		return fmt.Errorf("meta: writing %s: %w", filepath.Join(s.dir, fileName), err)
	}
	s.img = img
	if topicsChanged {
		s.reindex()
	}
	return nil
}

func (s *Store) reindex() {
	s.byID = make(map[[16]byte]string, len(s.img.topics))
	s.byKey = make(map[string]string, len(s.img.topics))
	for name, t := range s.img.topics {
		s.byID[t.ID] = name
		s.byKey[collisionKey(name)] = name
	}
}

// withTopics returns a copy of the current image whose topic map may be
// changed. REQUIRES: s.mu held.
func (s *Store) withTopics() image {
	img := s.img
	img.topics = maps.Clone(s.img.topics)
	return img
}

// ClusterID returns the cluster id: 22 characters of base64url, generated
// when the metadata was created.
func (s *Store) ClusterID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.img.clusterID
}

// Topics returns copies of all topics, sorted by name.
func (s *Store) Topics() []Topic {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Topic, 0, len(s.img.topics))
	for _, name := range slices.Sorted(maps.Keys(s.img.topics)) {
		out = append(out, s.img.topics[name].clone())
	}
	return out
}

// Topic returns a copy of the named topic.
func (s *Store) Topic(name string) (Topic, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.img.topics[name]
	if !ok {
		return Topic{}, false
	}
	return t.clone(), true
}

// TopicByID returns a copy of the topic with the given id.
func (s *Store) TopicByID(id [16]byte) (Topic, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	name, ok := s.byID[id]
	if !ok {
		return Topic{}, false
	}
	return s.img.topics[name].clone(), true
}

func unknownTopic(name string) error {
	return errorf(ErrUnknownTopic, "Topic '%s' does not exist.", name)
}

// CreateTopic creates a topic with a new random id, checking what Kafka's
// CreateTopics checks: the name (ErrInvalidTopic), that it is new
// (ErrTopicExists) and does not collide with a topic that differs only in
// '.' versus '_' (ErrInvalidTopic), partitions >= 1 (ErrInvalidPartitions)
// and the config overrides (ErrInvalidConfig). With validateOnly it checks
// and returns the topic it would create without storing it.
func (s *Store) CreateTopic(name string, partitions int32, configs map[string]string, validateOnly bool) (Topic, error) {
	if err := ValidateTopicName(name); err != nil {
		return Topic{}, err
	}
	if partitions < 1 {
		return Topic{}, errorf(ErrInvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
	}
	if err := ValidateTopicConfigs(configs); err != nil {
		return Topic{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.img.topics[name]; ok {
		return Topic{}, errorf(ErrTopicExists, "Topic '%s' already exists.", name)
	}
	if other, ok := s.byKey[collisionKey(name)]; ok {
		return Topic{}, errorf(ErrInvalidTopic, "Topic '%s' collides with existing topic: %s", name, other)
	}
	t := Topic{Name: name, ID: s.newTopicID(), Partitions: partitions, Configs: cloneConfigs(configs)}
	if validateOnly {
		return t.clone(), nil
	}
	img := s.withTopics()
	img.topics[name] = t
	if err := s.commit(img, true); err != nil {
		return Topic{}, err
	}
	return t.clone(), nil
}

// newTopicID returns an id no current topic has. Deleted topics' ids are
// not remembered; with 122 random bits a repeat is not a practical concern.
// REQUIRES: s.mu held.
func (s *Store) newTopicID() [16]byte {
	for {
		id := newUUID()
		if _, taken := s.byID[id]; !taken {
			return id
		}
	}
}

// cloneConfigs copies overrides for storing: nil when there are none.
func cloneConfigs(c map[string]string) map[string]string {
	if len(c) == 0 {
		return nil
	}
	return maps.Clone(c)
}

// DeleteTopic removes a topic and returns what it was.
func (s *Store) DeleteTopic(name string) (Topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.img.topics[name]
	if !ok {
		return Topic{}, unknownTopic(name)
	}
	img := s.withTopics()
	delete(img.topics, name)
	if err := s.commit(img, true); err != nil {
		return Topic{}, err
	}
	return t.clone(), nil
}

// CreatePartitions raises a topic's partition count to total. Like Kafka,
// it refuses to shrink or keep the count (ErrInvalidPartitions).
func (s *Store) CreatePartitions(name string, total int32, validateOnly bool) (Topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.img.topics[name]
	if !ok {
		return Topic{}, unknownTopic(name)
	}
	switch {
	case total < t.Partitions:
		return Topic{}, errorf(ErrInvalidPartitions, "The topic %s currently has %d partition(s); %d would not be an increase.", name, t.Partitions, total)
	case total == t.Partitions:
		return Topic{}, errorf(ErrInvalidPartitions, "Topic already has %d partition(s).", t.Partitions)
	}
	t.Partitions = total
	if validateOnly {
		return t.clone(), nil
	}
	img := s.withTopics()
	img.topics[name] = t
	if err := s.commit(img, true); err != nil {
		return Topic{}, err
	}
	return t.clone(), nil
}

// SetTopicConfigs replaces all of a topic's overrides (AlterConfigs).
func (s *Store) SetTopicConfigs(name string, configs map[string]string, validateOnly bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.img.topics[name]; !ok {
		return unknownTopic(name)
	}
	if err := ValidateTopicConfigs(configs); err != nil {
		return err
	}
	return s.setConfigs(name, cloneConfigs(configs), validateOnly)
}

// AlterTopicConfigs applies IncrementalAlterConfigs operations, in order,
// to a topic's overrides, then validates the result as a whole. APPEND and
// SUBTRACT work on LIST configs only; they start from the override, or
// Kafka's default when there is none, and APPEND skips values already
// present.
func (s *Store) AlterTopicConfigs(name string, ops []ConfigOp, validateOnly bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.img.topics[name]
	if !ok {
		return unknownTopic(name)
	}
	configs := maps.Clone(t.Configs)
	if configs == nil {
		configs = map[string]string{}
	}
	for _, op := range ops {
		d := topicDefs[op.Name]
		if d == nil {
			return errorf(ErrInvalidConfig, "Unknown topic config name: %s", op.Name)
		}
		switch op.Op {
		case ConfigOpSet:
			configs[op.Name] = op.Value
		case ConfigOpDelete:
			delete(configs, op.Name)
		case ConfigOpAppend, ConfigOpSubtract:
			if d.typ != kmsg.ConfigTypeList {
				return errorf(ErrInvalidConfig, "Can't %s to key %s because its type is not LIST.", opName(op.Op), op.Name)
			}
			cur, ok := configs[op.Name]
			if !ok {
				cur = d.def
			}
			list := splitList(cur)
			for _, v := range splitList(op.Value) {
				if op.Op == ConfigOpAppend {
					if !slices.Contains(list, v) {
						list = append(list, v)
					}
				} else {
					list = slices.DeleteFunc(list, func(s string) bool { return s == v })
				}
			}
			configs[op.Name] = strings.Join(list, ",")
		default:
			return errorf(ErrInvalidConfig, "Unknown config operation %d for %s.", op.Op, op.Name)
		}
	}
	if err := ValidateTopicConfigs(configs); err != nil {
		return err
	}
	return s.setConfigs(name, cloneConfigs(configs), validateOnly)
}

func opName(op ConfigOpType) string {
	if op == ConfigOpAppend {
		return "APPEND"
	}
	return "SUBTRACT"
}

func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// setConfigs stores validated overrides. REQUIRES: s.mu held for writing.
func (s *Store) setConfigs(name string, configs map[string]string, validateOnly bool) error {
	t := s.img.topics[name]
	if validateOnly || maps.Equal(t.Configs, configs) {
		return nil
	}
	t.Configs = configs
	img := s.withTopics()
	img.topics[name] = t
	return s.commit(img, false) // names and ids unchanged
}

// NextProducerID returns a producer id never returned before, even across
// restarts and crashes: before handing out ids from a new block it makes
// the end of that block durable, and Open starts from that mark. A crash
// wastes at most one block.
func (s *Store) NextProducerID() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nextPID >= s.img.pidBlockEnd {
		if s.nextPID > math.MaxInt64-producerIDBlockSize {
			return -1, ErrProducerIDsExhausted
		}
		img := s.img
		img.pidBlockEnd = s.nextPID + producerIDBlockSize
		if err := s.commit(img, false); err != nil {
			return -1, err
		}
	}
	id := s.nextPID
	s.nextPID++
	return id, nil
}
