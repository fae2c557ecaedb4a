package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/chronik-stream/chronik/internal/vfs"
)

// Config configures a Broker. Start from DefaultConfig; New validates it once.
type Config struct {
	// NodeID is this broker's node.id. Default 1.
	NodeID int32
	// Listen is the host:port the Kafka listener binds ("0.0.0.0:9092").
	// Port 0 picks a free port (tests); Addr reports it.
	Listen string
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients.
	// An empty host means: the bind host, or 127.0.0.1 when binding all
	// interfaces (never 0.0.0.0). Port 0 means the bound port.
	AdvertisedHost string
	AdvertisedPort int32
	// DataDir holds the partition logs and metadata. Default "./data".
	DataDir string
	// MetricsListen is the host:port of the Prometheus /metrics and
	// /healthz endpoint; empty disables it.
	MetricsListen string

	// AutoCreateTopics is auto.create.topics.enable (default true).
	AutoCreateTopics bool
	// NumPartitions is num.partitions, for auto-created topics and
	// CreateTopics with -1 partitions (default 1).
	NumPartitions int32
	// FsyncInterval 0 (the default) fsyncs every acknowledged write before
	// it is acknowledged or visible. A positive interval fsyncs in the
	// background that often instead, trading durability for speed.
	FsyncInterval time.Duration
	// PageCacheTail, if positive, is how many bytes at the end of each
	// partition's active segment stay in the page cache once fsynced; older
	// bytes are dropped from the cache so that appends reuse its pages
	// instead of taking fresh ones, and consumers further behind read from
	// the disk. 0 (the default) keeps everything and lets the kernel evict,
	// as Kafka does.
	PageCacheTail int64
	// FetchCopy turns off sendfile: fetch responses on plaintext listeners
	// then copy record bytes through the broker, as on TLS listeners. By
	// default records go from the segment files to the socket.
	FetchCopy bool
	// MaxRequestBytes is socket.request.max.bytes (default 100 MiB).
	MaxRequestBytes int32
	// BrokerConfigs are static broker configs by their Kafka names
	// (e.g. "log.segment.bytes"), the defaults for every topic.
	BrokerConfigs map[string]string

	// Security and limits (security.go, sasl.go, acl.go, limits.go). Each
	// field left at its zero value takes the BrokerConfigs entry of its
	// Kafka name, if any, then the default given here.

	// Listeners are the Kafka listeners, each with a name and a security
	// protocol (listeners, listener.security.protocol.map). Empty means one
	// PLAINTEXT listener on Listen, advertised as AdvertisedHost and
	// AdvertisedPort.
	Listeners []Listener
	// TLS is the certificate configuration of the SSL and SASL_SSL
	// listeners that have none of their own (ssl.client.auth).
	TLS TLSConfig
	// SASLMechanisms is sasl.enabled.mechanisms; empty means
	// SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN.
	SASLMechanisms []string
	// SASLPlainUsers are PLAIN users and their passwords, checked before
	// the SCRAM credentials (which PLAIN also accepts).
	SASLPlainUsers map[string]string
	// SASLMaxReceiveSize is sasl.server.max.receive.size: the largest
	// frame before authentication on a SASL listener. Default 8 KiB
	// (Kafka's is 512 KiB; our mechanisms' tokens are a few hundred bytes).
	SASLMaxReceiveSize int32
	// ConnectionsMaxReauth is connections.max.reauth.ms (KIP-368): the
	// lifetime of a SASL session. 0 (the default): sessions do not expire.
	ConnectionsMaxReauth time.Duration
	// FailedAuthenticationDelay is connection.failed.authentication.delay.ms:
	// how long a failed SASL exchange waits before its answer. Default
	// 100ms; negative: none.
	FailedAuthenticationDelay time.Duration
	// Authorizer turns ACLs on (authorizer.class.name set): every request
	// is checked against the stored ACLs.
	Authorizer bool
	// SuperUsers is super.users: principals ("User:admin") allowed
	// everything.
	SuperUsers []string
	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found: allow a
	// request on a resource no ACL names. Default false.
	AllowEveryoneIfNoACLFound bool
	// MaxConnections is max.connections; MaxConnectionsPerIP is
	// max.connections.per.ip, with per-address exceptions in
	// MaxConnectionsPerIPOverrides (max.connections.per.ip.overrides, where
	// 0 refuses the address). 0 means no limit. Connections over a limit
	// are closed at accept.
	MaxConnections               int
	MaxConnectionsPerIP          int
	MaxConnectionsPerIPOverrides map[string]int
	// ConnectionsMaxIdle is connections.max.idle.ms: close a connection
	// that sends nothing for this long while it is owed no response, or
	// takes this long to send a frame or read a response. Default 10
	// minutes; negative: never.
	ConnectionsMaxIdle time.Duration
	// QueuedMaxRequestBytes is queued.max.request.bytes: the request bytes
	// all connections together may hold until their responses are written;
	// past it readers stop reading. Default 512 MiB; negative: no limit.
	QueuedMaxRequestBytes int64
	// MaxConnRequestBytesInFlight is the same bound for one connection.
	// Default socket.request.max.bytes; negative: no limit.
	MaxConnRequestBytesInFlight int64

	// boundListeners and boundAdvertised are the listeners as bound by
	// Start, in Kafka's NAME://host:port,... form (DescribeConfigs).
	boundListeners, boundAdvertised string

	// Logger receives the broker's logs; nil is slog.Default().
	Logger *slog.Logger
	// FS is the filesystem seam; nil is the OS.
	FS vfs.FS
}

// DefaultConfig returns the documented defaults.
// DefaultPageCacheTail is Config.PageCacheTail's default: keep
// everything, as Kafka (docs/benchmarks.md has the trade-off).
const DefaultPageCacheTail = 0

func DefaultConfig() Config {
	return Config{
		NodeID:           1,
		Listen:           "0.0.0.0:9092",
		DataDir:          "./data",
		AutoCreateTopics: true,
		NumPartitions:    1,
		MaxRequestBytes:  100 << 20,
		PageCacheTail:    DefaultPageCacheTail,
	}
}

func (c *Config) validate() error {
	if c.NodeID < 0 {
		return fmt.Errorf("broker: node id %d is negative", c.NodeID)
	}
	if c.DataDir == "" {
		return errors.New("broker: data dir is empty")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("broker: listen address %q: %w", c.Listen, err)
	}
	if c.NumPartitions < 1 {
		return fmt.Errorf("broker: num.partitions %d must be at least 1", c.NumPartitions)
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 100 << 20
	}
	if c.PageCacheTail < 0 {
		return fmt.Errorf("broker: page cache tail %d is negative", c.PageCacheTail)
	}
	if c.FsyncInterval < 0 {
		return fmt.Errorf("broker: fsync interval %v is negative", c.FsyncInterval)
	}
	if c.AdvertisedHost == "0.0.0.0" || c.AdvertisedHost == "::" {
		return fmt.Errorf("broker: advertised host %q is not an address clients can reach", c.AdvertisedHost)
	}
	if c.AdvertisedPort < 0 || c.AdvertisedPort > 65535 {
		return fmt.Errorf("broker: advertised port %d out of range", c.AdvertisedPort)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.FS == nil {
		c.FS = vfs.OS
	}
	return c.validateSecurity()
}

// staticBrokerConfigs is what DescribeConfigs reports as the broker's static
// configuration: what the operator set plus what Config itself decides.
func (c *Config) staticBrokerConfigs(advHost string, advPort int32) map[string]string {
	m := make(map[string]string, len(c.BrokerConfigs)+8)
	for k, v := range c.BrokerConfigs {
		m[k] = v
	}
	m["node.id"] = strconv.Itoa(int(c.NodeID))
	m["broker.id"] = strconv.Itoa(int(c.NodeID))
	m["log.dirs"] = c.DataDir
	m["num.partitions"] = strconv.Itoa(int(c.NumPartitions))
	m["auto.create.topics.enable"] = strconv.FormatBool(c.AutoCreateTopics)
	m["socket.request.max.bytes"] = strconv.Itoa(int(c.MaxRequestBytes))
	m["listeners"] = "PLAINTEXT://" + c.Listen
	m["advertised.listeners"] = "PLAINTEXT://" + net.JoinHostPort(advHost, strconv.Itoa(int(advPort)))
	c.limitConfigs(m)
	if c.FsyncInterval > 0 {
		m["log.flush.interval.ms"] = strconv.FormatInt(c.FsyncInterval.Milliseconds(), 10)
	}
	return m
}
