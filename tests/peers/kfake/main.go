// Command kfake runs franz-go's kfake as a standalone, single-broker Kafka
// peer for scripts/bench.sh: the same load against Chronik and against kfake,
// on the same machine, gives the ratio in docs/benchmarks.md.
//
//	go run . -port 9092 -data-dir /tmp/kfake-data
//
// It prints the listen address (host:port) on stdout once it accepts
// connections, then runs until SIGINT or SIGTERM and closes the cluster
// cleanly. This is a test peer only: nothing of kfake is copied into Chronik.
//
// The options, and why they are the comparable setup:
//
//   - kfake.Ports(port): one listener, hence one broker (NumBrokers is set
//     from the number of ports), bound to 127.0.0.1 like Chronik in the bench.
//   - kfake.DataDir(dir): kfake's disk persistence: segment, index and state
//     files under dir, reloaded on restart. Without it kfake keeps everything
//     in memory, which would not compare with a broker that writes a log.
//   - kfake.SyncWrites(): fsync of the segment and index file after every
//     persisted batch, before the produce is answered (kfake writes batches
//     inline on its cluster loop). This is the counterpart of Chronik's
//     default --fsync always (acknowledged => on disk). Without it kfake
//     fsyncs only on segment roll and shutdown.
//   - kfake.AllowAutoTopicCreation() and DefaultNumPartitions(-partitions),
//     as Chronik auto-creates; the bench creates its topic explicitly anyway.
//
// go.mod requires franz-go v1.22.3 although kfake's own go.mod asks for
// v1.21.7: this kfake uses kversion APIs (EachSupportedFeature) that only
// v1.22 has, so with v1.21.7 it does not compile.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "listen port on 127.0.0.1 (0: any free port)")
	dataDir := flag.String("data-dir", "", "data directory (required: kfake persists there)")
	noSync := flag.Bool("no-sync", false, "do not fsync every batch (kfake's default; not what the bench compares)")
	partitions := flag.Int("partitions", 1, "default partitions of auto-created topics")
	flag.Parse()
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "kfake: -data-dir is required")
		os.Exit(2)
	}
	opts := []kfake.Opt{
		kfake.Ports(*port),
		kfake.DataDir(*dataDir),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	}
	if !*noSync {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfake: %v\n", err)
		os.Exit(1)
	}
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		fmt.Fprintf(os.Stderr, "kfake: want one broker, have %v\n", addrs)
		c.Close()
		os.Exit(1)
	}
	fmt.Println(addrs[0])

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	c.Close()
}
