package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Topology.
const (
	DefaultPrefix  = "heir"
	DefaultStream  = "HEIR_EVENTS"
	DefaultDurable = "heir-node"
)

// Topology names where events go: the subject prefix (subjects are
// <prefix>.<sensor>.<type>), the stream that keeps them and the node's
// durable consumer. The defaults suit one node per NATS account; tests and
// shared clusters use their own prefix.
type Topology struct {
	Prefix  string
	Stream  string
	Durable string
}

func (t Topology) normalise() (Topology, error) {
	if t.Prefix == "" {
		t.Prefix = DefaultPrefix
	}
	if err := validPrefix(t.Prefix); err != nil {
		return t, err
	}
	if t.Stream == "" {
		if t.Prefix == DefaultPrefix {
			t.Stream = DefaultStream
		} else {
			t.Stream = strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(t.Prefix)) + "_EVENTS"
		}
	}
	if t.Durable == "" {
		t.Durable = DefaultDurable
	}
	for _, n := range []string{t.Stream, t.Durable} {
		if strings.ContainsAny(n, ".*> \t") || n == "" {
			return t, fmt.Errorf("bus: stream and consumer names may not hold '.', '*', '>' or spaces: %q", n)
		}
	}
	return t, nil
}

// StreamLimits bound the event stream.
type StreamLimits struct {
	// MaxBytes caps the stream (default 1 GiB). When it is full, new
	// publishes are refused and sensors keep their events in their spools
	// until the node catches up.
	MaxBytes int64
	// MaxAge drops events the node has not consumed after this long
	// (default 7 days).
	MaxAge time.Duration
	// Duplicates is the window in which JetStream drops a republished
	// envelope by its id (default 2 minutes); the node's idempotent store
	// covers everything older.
	Duplicates time.Duration
	// Replicas for a clustered JetStream (default 1).
	Replicas int
}

// EnsureStream creates the event stream, or updates its limits. The stream
// is a work queue: an event leaves it once the node has acknowledged it, and
// a full stream refuses new events (discard new) rather than losing stored
// ones.
func EnsureStream(ctx context.Context, js jetstream.JetStream, topo Topology, lim StreamLimits) (jetstream.Stream, error) {
	topo, err := topo.normalise()
	if err != nil {
		return nil, err
	}
	if lim.MaxBytes == 0 {
		lim.MaxBytes = 1 << 30
	}
	if lim.MaxAge == 0 {
		lim.MaxAge = 7 * 24 * time.Hour
	}
	if lim.Duplicates == 0 {
		lim.Duplicates = 2 * time.Minute
	}
	if lim.Replicas == 0 {
		lim.Replicas = 1
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        topo.Stream,
		Description: "heir sensor events (docs/bus.md)",
		Subjects:    []string{topo.Prefix + ".*.*"},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		Storage:     jetstream.FileStorage,
		MaxBytes:    lim.MaxBytes,
		MaxAge:      lim.MaxAge,
		MaxMsgSize:  MaxMessageBytes,
		Duplicates:  lim.Duplicates,
		Replicas:    lim.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: create stream %s: %w", topo.Stream, err)
	}
	return st, nil
}

// InboxPrefix is the reply-subject prefix of a sensor's connection: the
// only subjects it may subscribe to, so that no sensor can read another's
// acknowledgements or the node's deliveries.
func InboxPrefix(sensor string) string { return "_INBOX.heir." + sensor }

// DialConfig connects the node to an existing NATS cluster (--nats-url).
type DialConfig struct {
	// URLs of the cluster's servers (comma-separated in one string works).
	URLs []string
	// CredsFile is a NATS .creds file (decentralised auth), or "" when the
	// URL carries user and password or no auth is needed.
	CredsFile string
	// TLS for tls:// URLs (nil: the system's roots).
	TLS *tls.Config
	// Name is the connection's name as the server shows it.
	Name string
}

// Dial connects to an existing NATS cluster. It retries in the background
// when the cluster is unreachable at start.
func Dial(cfg DialConfig, opts ...nats.Option) (*nats.Conn, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("bus: no NATS URL")
	}
	o := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
	}
	if cfg.CredsFile != "" {
		o = append(o, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.TLS != nil {
		o = append(o, nats.Secure(cfg.TLS))
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), append(o, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to %s: %w", strings.Join(cfg.URLs, ","), err)
	}
	return nc, nil
}
