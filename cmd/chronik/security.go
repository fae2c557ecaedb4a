package main

// chronik start's security and limit flags. Each has an environment
// variable; the flag wins. Repeatable flags (--listener,
// --advertised-listener) take a comma-separated list from their variable.

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chronik-stream/chronik/broker"
)

// securityOptions are start's security settings. Only comparable fields:
// startOptions is compared whole in tests.
type securityOptions struct {
	listeners           string // comma-separated NAME://host:port
	advertisedListeners string // comma-separated NAME://host:port
	protocolMap         string
	tlsCert             string
	tlsKey              string
	tlsClientCA         string
	tlsClientAuth       string
	saslMechanisms      string
	saslPlainUsers      string
	reauth              string
	maxConnections      int
	maxConnectionsPerIP int
	idle                string
	authorizer          bool
	superUsers          string
	allowEveryone       bool
}

// listFlag is a repeatable flag appending to a comma-separated string; the
// first use replaces the environment's value.
type listFlag struct {
	v   *string
	set bool
}

func (f *listFlag) String() string {
	if f.v == nil {
		return ""
	}
	return *f.v
}

func (f *listFlag) Set(s string) error {
	if !f.set {
		*f.v, f.set = "", true
	}
	if *f.v != "" {
		*f.v += ","
	}
	*f.v += s
	return nil
}

// register adds the flags to fs; errors of the environment variables are
// appended to errs.
func (o *securityOptions) register(fs *flag.FlagSet, errs *[]error) {
	ei := func(name string, def int) int {
		n, err := envInt(name, def)
		if err != nil {
			*errs = append(*errs, err)
		}
		return n
	}
	eb := func(name string, def bool) bool {
		b, err := envBool(name, def)
		if err != nil {
			*errs = append(*errs, err)
		}
		return b
	}
	o.listeners = envOr("CHRONIK_LISTENERS", "")
	fs.Var(&listFlag{v: &o.listeners}, "listener", "a listener NAME://host:port, repeatable, NAME one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL or a name in --listener-security-protocol-map; replaces --bind-addr/--kafka-port (CHRONIK_LISTENERS, comma-separated)")
	o.advertisedListeners = envOr("CHRONIK_ADVERTISED_LISTENERS", "")
	fs.Var(&listFlag{v: &o.advertisedListeners}, "advertised-listener", "NAME://host:port clients of listener NAME are told, repeatable (CHRONIK_ADVERTISED_LISTENERS, comma-separated)")
	fs.StringVar(&o.protocolMap, "listener-security-protocol-map", envOr("CHRONIK_LISTENER_SECURITY_PROTOCOL_MAP", ""), "NAME:PROTOCOL,... for listeners with names of their own (CHRONIK_LISTENER_SECURITY_PROTOCOL_MAP)")
	fs.StringVar(&o.tlsCert, "tls-cert", envOr("CHRONIK_TLS_CERT", ""), "PEM certificate chain of SSL and SASL_SSL listeners; reloaded on SIGHUP (CHRONIK_TLS_CERT)")
	fs.StringVar(&o.tlsKey, "tls-key", envOr("CHRONIK_TLS_KEY", ""), "PEM private key of --tls-cert (CHRONIK_TLS_KEY)")
	fs.StringVar(&o.tlsClientCA, "tls-client-ca", envOr("CHRONIK_TLS_CLIENT_CA", ""), "PEM CA certificates client certificates must chain to (mutual TLS) (CHRONIK_TLS_CLIENT_CA)")
	fs.StringVar(&o.tlsClientAuth, "tls-client-auth", envOr("CHRONIK_TLS_CLIENT_AUTH", ""), "ssl.client.auth: none, requested or required; default required with --tls-client-ca, else none (CHRONIK_TLS_CLIENT_AUTH)")
	fs.StringVar(&o.saslMechanisms, "sasl-mechanisms", envOr("CHRONIK_SASL_MECHANISMS", ""), "sasl.enabled.mechanisms, comma-separated; default SCRAM-SHA-256,SCRAM-SHA-512,PLAIN (CHRONIK_SASL_MECHANISMS)")
	fs.StringVar(&o.saslPlainUsers, "sasl-plain-users", envOr("CHRONIK_SASL_PLAIN_USERS", ""), "file of PLAIN users, one user:password a line; PLAIN also accepts SCRAM users (CHRONIK_SASL_PLAIN_USERS)")
	fs.StringVar(&o.reauth, "connections-max-reauth", envOr("CHRONIK_CONNECTIONS_MAX_REAUTH", ""), "connections.max.reauth.ms as a duration (1h): SASL sessions end unless re-authenticated; default never (CHRONIK_CONNECTIONS_MAX_REAUTH)")
	fs.IntVar(&o.maxConnections, "max-connections", ei("CHRONIK_MAX_CONNECTIONS", 0), "max.connections; 0: no limit (CHRONIK_MAX_CONNECTIONS)")
	fs.IntVar(&o.maxConnectionsPerIP, "max-connections-per-ip", ei("CHRONIK_MAX_CONNECTIONS_PER_IP", 0), "max.connections.per.ip; 0: no limit (CHRONIK_MAX_CONNECTIONS_PER_IP)")
	fs.StringVar(&o.idle, "connections-max-idle", envOr("CHRONIK_CONNECTIONS_MAX_IDLE", ""), "connections.max.idle.ms as a duration; default 10m, -1 never (CHRONIK_CONNECTIONS_MAX_IDLE)")
	fs.BoolVar(&o.authorizer, "authorizer", eb("CHRONIK_AUTHORIZER", false), "check every request against the ACLs (authorizer.class.name) (CHRONIK_AUTHORIZER)")
	fs.StringVar(&o.superUsers, "super-users", envOr("CHRONIK_SUPER_USERS", ""), "super.users: principals allowed everything, ;-separated (User:admin;User:CN=ops) (CHRONIK_SUPER_USERS)")
	fs.BoolVar(&o.allowEveryone, "allow-everyone-if-no-acl-found", eb("CHRONIK_ALLOW_EVERYONE_IF_NO_ACL_FOUND", false), "allow.everyone.if.no.acl.found (CHRONIK_ALLOW_EVERYONE_IF_NO_ACL_FOUND)")
}

func parseDuration(flagName, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if s == "-1" {
		return -1, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want a duration such as 10m", flagName, s)
	}
	return d, nil
}

// apply maps the options onto cfg.
func (o securityOptions) apply(cfg *broker.Config) error {
	var errs []error
	protocols := map[string]broker.SecurityProtocol{}
	if o.protocolMap != "" {
		m, err := broker.ParseProtocolMap(o.protocolMap)
		if err != nil {
			errs = append(errs, err)
		}
		protocols = m
	}
	for _, s := range splitList(o.listeners) {
		l, err := broker.ParseListener(s, protocols)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.Listeners = append(cfg.Listeners, l)
	}
	if o.advertisedListeners != "" {
		ls := cfg.Listeners
		if len(ls) == 0 {
			ls = []broker.Listener{{Name: "PLAINTEXT", Protocol: broker.ProtocolPlaintext, Addr: cfg.Listen}}
		}
		for _, s := range splitList(o.advertisedListeners) {
			if err := broker.SetAdvertised(ls, s); err != nil {
				errs = append(errs, err)
			}
		}
		cfg.Listeners = ls
	}
	cfg.TLS = broker.TLSConfig{CertFile: o.tlsCert, KeyFile: o.tlsKey, ClientCAFile: o.tlsClientCA, ClientAuth: broker.ClientAuth(o.tlsClientAuth)}
	if cfg.TLS.ClientAuth == "" && o.tlsClientCA != "" {
		cfg.TLS.ClientAuth = broker.ClientAuthRequired
	}
	cfg.SASLMechanisms = splitList(o.saslMechanisms)
	if o.saslPlainUsers != "" {
		users, err := broker.ReadPlainUsers(o.saslPlainUsers)
		if err != nil {
			errs = append(errs, fmt.Errorf("--sasl-plain-users: %w", err))
		}
		cfg.SASLPlainUsers = users
	}
	var err error
	if cfg.ConnectionsMaxReauth, err = parseDuration("connections-max-reauth", o.reauth); err != nil {
		errs = append(errs, err)
	}
	if cfg.ConnectionsMaxIdle, err = parseDuration("connections-max-idle", o.idle); err != nil {
		errs = append(errs, err)
	}
	if o.maxConnections < 0 || o.maxConnectionsPerIP < 0 {
		errs = append(errs, errors.New("--max-connections and --max-connections-per-ip must not be negative"))
	}
	cfg.MaxConnections, cfg.MaxConnectionsPerIP = o.maxConnections, o.maxConnectionsPerIP
	cfg.Authorizer = o.authorizer
	cfg.AllowEveryoneIfNoACLFound = o.allowEveryone
	for _, u := range strings.Split(o.superUsers, ";") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.SuperUsers = append(cfg.SuperUsers, u)
		}
	}
	return errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// reloadOnHUP reloads the TLS certificates on every SIGHUP until stop is
// closed.
func reloadOnHUP(b *broker.Broker, logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				if err := b.ReloadTLS(); err != nil {
					logger.Error("reloading TLS certificates failed; keeping the old ones", "err", err)
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// listenSummary is what the start log line says the broker listens on.
func listenSummary(cfg broker.Config) string {
	if len(cfg.Listeners) == 0 {
		return cfg.Listen
	}
	var parts []string
	for _, l := range cfg.Listeners {
		parts = append(parts, l.Name+"://"+l.Addr)
	}
	return strings.Join(parts, ",")
}
