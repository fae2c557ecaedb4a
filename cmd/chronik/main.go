// Command chronik runs the Chronik broker and its tools.
//
//	chronik start     run the broker in the foreground
//	chronik version   print the version
//
// Every flag of start has an environment variable; a flag wins over the
// variable, the variable over the config file (--config, configfile.go),
// the file over the default.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chronik-stream/chronik/broker"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `Usage: chronik <command> [flags]

Commands:
  start     run the broker in the foreground (chronik start -h for flags)
  config    show the effective configuration: config show [--config F] [flags]
  user      add, delete or list SCRAM users (chronik user -h)
  topic     create, list, describe, alter or delete topics (chronik topic -h)
  produce   produce lines of stdin as records
  consume   print records of a topic
  group     list, describe, reset-offsets or delete consumer groups
  bench     load generator: bench produce | bench consume
  log       offline: verify or dump a data directory
  version   print the version
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "start":
		return start(args[1:], stderr)
	case "user":
		return userCmd(args[1:], stdout, stderr)
	case "config":
		return configCmd(args[1:], stdout, stderr)
	case "bench", "topic", "produce", "consume", "group", "log":
		return runTool(args, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "chronik %s\n", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "chronik: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// startOptions are start's settings: flag, environment variable, default.
type startOptions struct {
	kafkaPort      int
	bindAddr       string
	advertisedAddr string
	dataDir        string
	metricsPort    int
	logLevel       string
	logFormat      string
	fsync          string
	pageCacheTail  int64
	fetchCopy      bool
	nodeID         int
	autoCreate     bool
	numPartitions  int
	sec            securityOptions // security.go
	configFile     string          // --config (configfile.go)
	file           *fileConfig     // what the config file set; nil without one
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) (int, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a number", name, v)
	}
	return n, nil
}

func envBool(name string, def bool) (bool, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: not true or false", name, v)
	}
	return b, nil
}

func parseStart(args []string, stderr io.Writer) (startOptions, error) {
	o, _, err := parseStartFlags(args, stderr)
	return o, err
}

// parseStartFlags parses start's flags, then applies the config file to
// those neither a flag nor the environment set (configfile.go).
func parseStartFlags(args []string, stderr io.Writer) (startOptions, *flag.FlagSet, error) {
	var o startOptions
	var errs []error
	ei := func(name string, def int) int {
		n, err := envInt(name, def)
		if err != nil {
			errs = append(errs, err)
		}
		return n
	}
	ei64 := func(name string, def int64) int64 {
		return int64(ei(name, int(def)))
	}
	eb := func(name string, def bool) bool {
		b, err := envBool(name, def)
		if err != nil {
			errs = append(errs, err)
		}
		return b
	}
	fs := flag.NewFlagSet("chronik start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.kafkaPort, "kafka-port", ei("CHRONIK_KAFKA_PORT", 9092), "Kafka listener port (CHRONIK_KAFKA_PORT)")
	fs.StringVar(&o.bindAddr, "bind-addr", envOr("CHRONIK_BIND_ADDR", "0.0.0.0"), "address to bind (CHRONIK_BIND_ADDR)")
	fs.StringVar(&o.advertisedAddr, "advertised-addr", envOr("CHRONIK_ADVERTISED_ADDR", ""), "host or host:port clients are told to connect to (CHRONIK_ADVERTISED_ADDR); default: the bind address, or 127.0.0.1 when binding 0.0.0.0")
	fs.StringVar(&o.dataDir, "data-dir", envOr("CHRONIK_DATA_DIR", "./data"), "data directory (CHRONIK_DATA_DIR)")
	fs.IntVar(&o.metricsPort, "metrics-port", ei("CHRONIK_METRICS_PORT", 9093), "Prometheus /metrics and /healthz port, 0 to disable (CHRONIK_METRICS_PORT)")
	fs.StringVar(&o.logLevel, "log-level", envOr("CHRONIK_LOG_LEVEL", "info"), "debug, info, warn or error (CHRONIK_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", envOr("CHRONIK_LOG_FORMAT", "text"), "text or json (CHRONIK_LOG_FORMAT)")
	fs.StringVar(&o.fsync, "fsync", envOr("CHRONIK_FSYNC", "always"), "always: fsync before acknowledging; or an interval such as 100ms to fsync in the background (CHRONIK_FSYNC)")
	fs.Int64Var(&o.pageCacheTail, "page-cache-tail", ei64("CHRONIK_PAGE_CACHE_TAIL", broker.DefaultPageCacheTail), "if positive, bytes at the end of each partition kept in the page cache once fsynced; older ones are dropped so appends reuse the pages; 0 keeps everything, as Kafka (CHRONIK_PAGE_CACHE_TAIL)")
	fs.BoolVar(&o.fetchCopy, "fetch-copy", eb("CHRONIK_FETCH_COPY", false), "copy fetched records through the broker instead of sending them from the segment files with sendfile, on plaintext listeners (CHRONIK_FETCH_COPY)")
	fs.IntVar(&o.nodeID, "node-id", ei("CHRONIK_NODE_ID", 1), "node.id (CHRONIK_NODE_ID)")
	fs.BoolVar(&o.autoCreate, "auto-create-topics", eb("CHRONIK_AUTO_CREATE_TOPICS", true), "auto.create.topics.enable (CHRONIK_AUTO_CREATE_TOPICS)")
	fs.IntVar(&o.numPartitions, "num-partitions", ei("CHRONIK_NUM_PARTITIONS", 1), "num.partitions for auto-created topics (CHRONIK_NUM_PARTITIONS)")
	o.sec.register(fs, &errs)
	fs.StringVar(&o.configFile, "config", envOr("CHRONIK_CONFIG", ""), "config file of key = value lines; flags and environment variables win over it (CHRONIK_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %v", fs.Args()))
	}
	if o.configFile != "" {
		var err error
		o.file, err = loadConfigFile(fs, o.configFile)
		errs = append(errs, err)
	}
	return o, fs, errors.Join(errs...)
}

func (o startOptions) config(logger *slog.Logger) (broker.Config, error) {
	cfg := broker.DefaultConfig()
	cfg.Logger = logger
	if o.kafkaPort < 0 || o.kafkaPort > 65535 {
		return cfg, fmt.Errorf("--kafka-port %d out of range", o.kafkaPort)
	}
	cfg.Listen = net.JoinHostPort(o.bindAddr, strconv.Itoa(o.kafkaPort))
	if o.advertisedAddr != "" {
		host, port, err := splitAdvertised(o.advertisedAddr)
		if err != nil {
			return cfg, err
		}
		cfg.AdvertisedHost, cfg.AdvertisedPort = host, port
	}
	cfg.DataDir = o.dataDir
	if o.metricsPort < 0 || o.metricsPort > 65535 {
		return cfg, fmt.Errorf("--metrics-port %d out of range", o.metricsPort)
	}
	if o.metricsPort > 0 {
		cfg.MetricsListen = net.JoinHostPort(o.bindAddr, strconv.Itoa(o.metricsPort))
	}
	switch o.fsync {
	case "always", "":
		cfg.FsyncInterval = 0
	default:
		d, err := time.ParseDuration(o.fsync)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("--fsync %q: want \"always\" or a positive duration such as 100ms", o.fsync)
		}
		cfg.FsyncInterval = d
	}
	if o.pageCacheTail < 0 {
		return cfg, fmt.Errorf("--page-cache-tail %d is negative", o.pageCacheTail)
	}
	cfg.PageCacheTail = o.pageCacheTail
	cfg.FetchCopy = o.fetchCopy
	cfg.NodeID = int32(o.nodeID)
	cfg.AutoCreateTopics = o.autoCreate
	cfg.NumPartitions = int32(o.numPartitions)
	o.file.apply(&cfg)
	if err := o.sec.apply(&cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// splitAdvertised accepts "host" or "host:port" (and "[v6]:port").
func splitAdvertised(s string) (string, int32, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.Trim(s, "[]"), 0, nil
		}
		return "", 0, fmt.Errorf("--advertised-addr %q: %v", s, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("--advertised-addr %q: bad port", s)
	}
	return host, int32(port), nil
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func start(args []string, stderr io.Writer) int {
	o, err := parseStart(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "chronik start: %v\n", err)
		return 2
	}
	logger, err := newLogger(o.logLevel, o.logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "chronik start: %v\n", err)
		return 2
	}
	cfg, err := o.config(logger)
	if err != nil {
		fmt.Fprintf(stderr, "chronik start: %v\n", err)
		return 2
	}
	logger.Info("starting chronik", "version", version, "data_dir", cfg.DataDir, "listen", listenSummary(cfg), "fsync", o.fsync)
	b, err := broker.New(cfg)
	if err != nil {
		logger.Error("cannot open the broker", "err", err)
		return 1
	}
	if err := b.Start(); err != nil {
		logger.Error("cannot start the broker", "err", err)
		b.Close()
		return 1
	}
	defer reloadOnHUP(b, logger)()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	sig := <-sigs
	logger.Info("shutting down", "signal", sig.String())
	go func() {
		<-sigs
		logger.Warn("second signal: exiting without a clean shutdown")
		os.Exit(1)
	}()
	if err := b.Close(); err != nil {
		logger.Error("shutdown finished with an error", "err", err)
		return 1
	}
	return 0
}
