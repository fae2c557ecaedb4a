package broker_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/chronik-stream/chronik/broker"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// A topic whose partitions cannot be opened (here: the filesystem refuses
// its files, as when file descriptors run out) is not left half-created:
// CreateTopics fails, the topic is gone from the metadata, and the broker
// still starts again on the same data directory.
func TestCreateTopicRollsBack(t *testing.T) {
	fs := vfs.NewMemFS()
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpOpen && strings.Contains(path, "doomed-2") {
			return errors.New("injected: too many open files")
		}
		return nil
	})
	cfg := broker.DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.FS, cfg.Logger = "127.0.0.1:0", "/data", fs, testLogger(t)
	b, addr := startWith(t, cfg)
	adm := kadm.NewClient(newFranz(t, addr))
	ctx := testCtx(t)
	res, err := adm.CreateTopics(ctx, 4, 1, nil, "doomed", "fine")
	if err != nil {
		t.Fatal(err)
	}
	if r := res["doomed"]; r.Err == nil {
		t.Fatalf("creating a topic whose partition cannot be opened succeeded: %+v", r)
	}
	if r := res["fine"]; r.Err != nil {
		t.Fatalf("the other topic: %v", r.Err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("doomed") || !topics.Has("fine") {
		t.Fatalf("topics after the failed create: %v", topics.Names())
	}
	b.Close()
	fs.SetHook(nil)
	cfg.Listen = "127.0.0.1:0"
	_, addr = startWith(t, cfg)
	topics, err = kadm.NewClient(newFranz(t, addr)).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("doomed") || !topics.Has("fine") {
		t.Fatalf("topics after restart: %v", topics.Names())
	}
}
