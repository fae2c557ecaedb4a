package log

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// Manager owns the partition logs of one data directory (Kafka's
// LogManager). Partition directories are named "<topic>-<partition>".
type Manager struct {
	dir  string
	fs   vfs.FS
	opts Options

	mu    sync.Mutex
	parts map[tp]*Partition

	bg background // retention and cleaner goroutines (retention.go)
}

type tp struct {
	topic     string
	partition int32
}

// openParallelism bounds how many partitions OpenManager recovers at once.
const openParallelism = 8

// deleteSuffix marks a directory whose deletion was started (Partition.Delete).
const deleteSuffix = "-delete"

// OpenManager opens every partition directory "<topic>-<partition>" in dir,
// in parallel, with configFor(topic) as its config. A directory whose topic
// configFor does not know is deleted with a warning; directories ending in
// "-delete" (unfinished deletions) are removed; other entries are ignored.
func OpenManager(dir string, configFor func(topic string) (Config, bool), opts Options) (*Manager, error) {
	opts = opts.withDefaults()
	m := &Manager{dir: dir, fs: opts.FS, opts: opts, parts: map[tp]*Partition{}}
	if err := mkdirAllDurable(m.fs, dir); err != nil {
		return nil, err
	}
	names, err := m.fs.ReadDir(dir)
	if err != nil {
		return nil, storageErr("read dir", dir, err)
	}
	type job struct {
		tp  tp
		cfg Config
	}
	var jobs []job
	for _, name := range names {
		path := filepath.Join(dir, name)
		if _, isDir, err := m.fs.Stat(path); err != nil || !isDir {
			continue
		}
		if strings.HasSuffix(name, deleteSuffix) {
			opts.Logger.Info("finishing partition deletion", "dir", path)
			if err := m.fs.RemoveAll(path); err != nil {
				return nil, storageErr("remove", path, err)
			}
			continue
		}
		topic, partition, ok := parsePartitionDir(name)
		if !ok {
			continue
		}
		cfg, known := configFor(topic)
		if !known {
			opts.Logger.Warn("deleting the log of an unknown topic", "dir", path, "topic", topic, "partition", partition)
			if err := m.fs.RemoveAll(path); err != nil {
				return nil, storageErr("remove", path, err)
			}
			continue
		}
		jobs = append(jobs, job{tp{topic, partition}, cfg})
	}

	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, openParallelism)
		errs = make([]error, len(jobs))
	)
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p, err := Open(m.partDir(j.tp), j.tp.topic, j.tp.partition, j.cfg, opts)
			if err != nil {
				errs[i] = fmt.Errorf("log: open %s-%d: %w", j.tp.topic, j.tp.partition, err)
				return
			}
			m.mu.Lock()
			m.parts[j.tp] = p
			m.mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		m.Close()
		return nil, err
	}
	m.startBackground()
	return m, nil
}

// parsePartitionDir splits "<topic>-<partition>".
func parsePartitionDir(name string) (string, int32, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != name[i+1:] {
		return "", 0, false
	}
	return name[:i], int32(n), true
}

func (m *Manager) partDir(t tp) string {
	return filepath.Join(m.dir, t.topic+"-"+strconv.Itoa(int(t.partition)))
}

// Dir is the data directory.
func (m *Manager) Dir() string { return m.dir }

// Partition returns the open partition, or nil.
func (m *Manager) Partition(topic string, partition int32) *Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parts[tp{topic, partition}]
}

// Create opens or creates the partition's log; if it is open already it is
// returned as is.
func (m *Manager) Create(topic string, partition int32, cfg Config) (*Partition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := tp{topic, partition}
	if p := m.parts[t]; p != nil {
		return p, nil
	}
	if topic == "" || partition < 0 {
		return nil, fmt.Errorf("log: bad partition %q-%d", topic, partition)
	}
	p, err := Open(m.partDir(t), topic, partition, cfg, m.opts)
	if err != nil {
		return nil, err
	}
	m.parts[t] = p
	return p, nil
}

// Partitions returns the open partitions of topic, in partition order.
func (m *Manager) Partitions(topic string) []*Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []*Partition
	for t, p := range m.parts {
		if t.topic == topic {
			ps = append(ps, p)
		}
	}
	sortPartitions(ps)
	return ps
}

// All returns every open partition.
func (m *Manager) All() []*Partition {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := make([]*Partition, 0, len(m.parts))
	for _, p := range m.parts {
		ps = append(ps, p)
	}
	return ps
}

func sortPartitions(ps []*Partition) {
	slices.SortFunc(ps, func(a, b *Partition) int { return cmp.Compare(a.partition, b.partition) })
}

// DeleteTopic deletes every partition of topic. The directories are renamed
// away under the manager lock, so a Create of the same topic right after
// starts from an empty log; the files are removed after.
func (m *Manager) DeleteTopic(topic string) error {
	var errs []error
	var doomed []string
	var owners []*Partition
	m.mu.Lock()
	for t, p := range m.parts {
		if t.topic != topic {
			continue
		}
		delete(m.parts, t)
		d, err := p.detach()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		doomed, owners = append(doomed, d), append(owners, p)
	}
	m.mu.Unlock()
	for i, d := range doomed {
		errs = append(errs, owners[i].removeDetached(d))
	}
	return errors.Join(errs...)
}

// Close stops retention and the cleaner and closes every partition.
func (m *Manager) Close() error {
	m.stopBackground()
	m.mu.Lock()
	ps := make([]*Partition, 0, len(m.parts))
	for _, p := range m.parts {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(ps))
		sem  = make(chan struct{}, openParallelism)
	)
	for i, p := range ps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = p.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
