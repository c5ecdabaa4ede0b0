package bus

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heir-emd/heir/internal/bus/spool"
)

// Defaults of PublisherConfig.
const (
	DefaultQueueLen   = 8192
	DefaultQueueBytes = 32 << 20
	DefaultWindow     = 256
	DefaultAckTimeout = 10 * time.Second
	// envelopeOverhead bounds what the envelope adds to a record (besides
	// the sensor name).
	envelopeOverhead = 256
	// spoolHeaderMax bounds the sender's header in a spool record: type
	// length, type, id.
	spoolHeaderMax = 64
	syncEvery      = time.Second
	writeBatch     = 512
)

// Errors of Publish.
var (
	ErrQueueFull  = errors.New("bus: publish queue full, record dropped")
	ErrTooLarge   = errors.New("bus: record too large, dropped")
	ErrClosed     = errors.New("bus: publisher closed")
	ErrNotStarted = errors.New("bus: publisher not running")
)

// PublisherConfig configures a sensor's publisher.
type PublisherConfig struct {
	// Creds are the sensor's credentials (ReadCredentials). They name the
	// sensor and usually the node's URLs. Nil: no authentication (an
	// external cluster without auth, tests), Sensor must be set.
	Creds *Credentials
	// Sensor names the sensor when Creds do not.
	Sensor string
	// URLs override the credentials' URLs (--node).
	URLs []string
	// Topology.Prefix must match the node's (the credentials' prefix, if
	// they carry one, wins when this is empty).
	Topology Topology
	// SpoolDir keeps events the node has not acknowledged (the sensor's
	// <data dir>/spool). Required.
	SpoolDir string
	// SpoolMaxBytes caps the spool (default spool.DefaultMaxBytes); when
	// full the oldest events are dropped and counted.
	SpoolMaxBytes int64
	// SpoolSegmentBytes is the spool's segment size (default
	// spool.DefaultSegmentBytes).
	SpoolSegmentBytes int64
	// QueueLen and QueueBytes bound the in-memory queue between the
	// caller and the spool (defaults 8192 records, 32 MiB); when full,
	// Publish drops the new record and counts it.
	QueueLen   int
	QueueBytes int64
	// Window is how many envelopes may await JetStream's acknowledgement
	// at once (default 256).
	Window int
	// AckTimeout bounds the wait for one acknowledgement (default 10 s).
	AckTimeout time.Duration
	// TLS overrides the TLS settings built from the credentials' CA.
	TLS *tls.Config
	// NATSOptions are appended to the connection's options (Server.InProcess
	// for a sensor inside the node's process).
	NATSOptions []nats.Option
	Logger      *slog.Logger
}

// PublisherStats are the sensor side's counters, cumulative since the
// publisher started, and gauges.
type PublisherStats struct {
	// EventsIn counts records handed to Publish and accepted.
	EventsIn uint64 `json:"events_in"`
	// Spooled counts records written to the disk spool.
	Spooled uint64 `json:"spooled"`
	// Published counts envelopes JetStream acknowledged (Duplicates
	// included).
	Published uint64 `json:"published"`
	// Duplicates counts acknowledgements saying JetStream already had the
	// envelope (a resend after a lost acknowledgement).
	Duplicates uint64 `json:"duplicates"`
	// DroppedQueueFull counts records refused because the in-memory queue
	// was full (the spool's disk could not keep up).
	DroppedQueueFull uint64 `json:"dropped_queue_full"`
	// DroppedSpoolFull counts records lost to the spool's size cap (the
	// oldest go first).
	DroppedSpoolFull uint64 `json:"dropped_spool_full"`
	// DroppedTooLarge counts records larger than a message may be.
	DroppedTooLarge uint64 `json:"dropped_too_large"`
	// DroppedSpoolError counts records lost to spool write errors (disk
	// full) and corruption found when the spool was opened.
	DroppedSpoolError uint64 `json:"dropped_spool_error"`
	// PublishErrors counts failed publish attempts (each is retried).
	PublishErrors uint64 `json:"publish_errors"`
	// Reconnects counts reconnections to the bus.
	Reconnects uint64 `json:"reconnects"`
	// QueueDepth is the number of records in the in-memory queue (gauge).
	QueueDepth int `json:"queue_depth"`
	// SpoolPending is the number of records not yet acknowledged (gauge);
	// SpoolBytes their files' size.
	SpoolPending uint64 `json:"spool_pending"`
	SpoolBytes   int64  `json:"spool_bytes"`
	// AckedSeq is the highest sequence number up to which everything was
	// acknowledged (or dropped).
	AckedSeq uint64 `json:"acked_seq"`
	// Connected says whether the bus connection is up (gauge).
	Connected bool `json:"connected"`
}

type item struct {
	typ  string
	data []byte
	t    time.Time
}

// Publisher sends a sensor's records to the node. Publish never blocks;
// Run owns the goroutines that spool and send.
type Publisher struct {
	cfg    PublisherConfig
	sensor string
	topo   Topology
	log    *slog.Logger
	sp     *spool.Spool

	mu      sync.RWMutex // Publish holds it shared while it enqueues; Run takes it to close the queue
	closed  bool
	q       chan item
	qBytes  atomic.Int64
	running atomic.Bool

	eventsIn, spooled, published, duplicates, dropQueue, dropLarge, dropSpoolErr, pubErrors, reconnects atomic.Uint64
	connected                                                                                           atomic.Bool
	baseDropped, baseCorrupt                                                                            uint64
	maxData                                                                                             int // the largest record Publish takes
}

// NewPublisher opens the spool and prepares the publisher; Run starts it.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	sensor := cfg.Sensor
	if cfg.Creds != nil {
		if sensor != "" && sensor != cfg.Creds.Sensor {
			return nil, fmt.Errorf("bus: credentials are for sensor %s, not %s", cfg.Creds.Sensor, sensor)
		}
		sensor = cfg.Creds.Sensor
		if len(cfg.URLs) == 0 {
			cfg.URLs = cfg.Creds.URLs
		}
		if cfg.Topology.Prefix == "" {
			cfg.Topology.Prefix = cfg.Creds.Prefix
		}
	}
	if err := ValidSensorName(sensor); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	topo, err := cfg.Topology.normalise()
	if err != nil {
		return nil, err
	}
	if len(cfg.URLs) == 0 && len(cfg.NATSOptions) == 0 {
		return nil, errors.New("bus: no node URL (give --node, or credentials that name it)")
	}
	if cfg.SpoolDir == "" {
		return nil, errors.New("bus: the publisher needs a spool directory")
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.QueueLen < 1 || cfg.QueueBytes < MaxMessageBytes || cfg.Window < 1 {
		return nil, fmt.Errorf("bus: queue of at least 1 record and %d bytes, and a window of at least 1, needed", MaxMessageBytes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// A spool record is an envelope and a small header for the sender;
	// small test spools take smaller records.
	seg := cfg.SpoolSegmentBytes
	if seg == 0 {
		seg = spool.DefaultSegmentBytes
	}
	maxRecord := int(min(MaxMessageBytes+spoolHeaderMax, seg-16))
	sp, err := spool.Open(spool.Options{
		Dir:          cfg.SpoolDir,
		SegmentBytes: cfg.SpoolSegmentBytes,
		MaxBytes:     cfg.SpoolMaxBytes,
		MaxRecord:    maxRecord,
		Logger:       cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	st := sp.Stats()
	p := &Publisher{
		cfg: cfg, sensor: sensor, topo: topo, log: cfg.Logger, sp: sp,
		q:           make(chan item, cfg.QueueLen),
		maxData:     min(MaxMessageBytes, maxRecord-spoolHeaderMax) - envelopeOverhead - len(sensor),
		baseDropped: st.Dropped, baseCorrupt: st.Corrupt,
	}
	if st.Pending > 0 {
		p.log.Info("bus: spool holds events from a previous run", "pending", st.Pending, "bytes", st.Bytes)
	}
	return p, nil
}

// Sensor returns the sensor's name.
func (p *Publisher) Sensor() string { return p.sensor }

// Publish queues a record (an event type of docs/events.md: flow,
// observation, asset, finding, alert, stats) for the node. It encodes rec
// at once, so the caller may reuse it, and never blocks: when the queue is
// full the record is dropped, counted, and ErrQueueFull returned.
func (p *Publisher) Publish(typ string, rec any) error {
	if !KnownType(typ) {
		return fmt.Errorf("bus: unknown record type %q", typ)
	}
	// As heir sense's JSON lines: no HTML escaping, so a record has the
	// same bytes on the bus as in a file.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return fmt.Errorf("bus: encode %s record: %w", typ, err)
	}
	return p.PublishJSON(typ, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// PublishJSON queues an already encoded record (a JSON object); the
// publisher keeps data.
func (p *Publisher) PublishJSON(typ string, data []byte) error {
	if !KnownType(typ) {
		return fmt.Errorf("bus: unknown record type %q", typ)
	}
	if len(data) == 0 || data[0] != '{' {
		return fmt.Errorf("bus: %s record is not a JSON object", typ)
	}
	if len(data) > p.maxData {
		p.dropLarge.Add(1)
		return fmt.Errorf("%w: %s record of %d bytes", ErrTooLarge, typ, len(data))
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	// The byte bound: a burst of large records (assets with long evidence)
	// must not hold the queue's worth of megabytes.
	if p.qBytes.Add(int64(len(data))) > p.cfg.QueueBytes {
		p.qBytes.Add(-int64(len(data)))
		p.dropQueue.Add(1)
		return ErrQueueFull
	}
	select {
	case p.q <- item{typ: typ, data: data, t: time.Now()}:
		p.eventsIn.Add(1)
		return nil
	default:
		p.qBytes.Add(-int64(len(data)))
		p.dropQueue.Add(1)
		return ErrQueueFull
	}
}

// Stats returns the publisher's counters.
func (p *Publisher) Stats() PublisherStats {
	st := p.sp.Stats()
	return PublisherStats{
		EventsIn:          p.eventsIn.Load(),
		Spooled:           p.spooled.Load(),
		Published:         p.published.Load(),
		Duplicates:        p.duplicates.Load(),
		DroppedQueueFull:  p.dropQueue.Load(),
		DroppedSpoolFull:  st.Dropped - p.baseDropped,
		DroppedTooLarge:   p.dropLarge.Load(),
		DroppedSpoolError: p.dropSpoolErr.Load() + st.Corrupt,
		PublishErrors:     p.pubErrors.Load(),
		Reconnects:        p.reconnects.Load(),
		QueueDepth:        len(p.q),
		SpoolPending:      st.Pending,
		SpoolBytes:        st.Bytes,
		AckedSeq:          st.AckedSeq,
		Connected:         p.connected.Load(),
	}
}

// Drain stops accepting records (Publish then returns ErrClosed) and waits
// until every queued record is acknowledged by the node, or ctx ends (the
// rest stays in the spool for the next run). Run must be running.
func (p *Publisher) Drain(ctx context.Context) error {
	if !p.running.Load() {
		return ErrNotStarted
	}
	p.closeQueue()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		st := p.Stats()
		if st.QueueDepth == 0 && st.SpoolPending == 0 && p.qBytes.Load() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: %d events not yet acknowledged by the node (kept in the spool): %w", st.SpoolPending+uint64(st.QueueDepth), ctx.Err())
		case <-t.C:
		}
	}
}

func (p *Publisher) closeQueue() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// Run connects to the bus and spools and sends records until ctx ends;
// then it writes what is still queued to the spool, closes it and returns.
// Run may be called once.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("bus: publisher already ran")
	}
	connCh := make(chan struct{}, 1)
	signal := func() {
		select {
		case connCh <- struct{}{}:
		default:
		}
	}
	nc, err := p.connect(signal)
	if err != nil {
		p.closeQueue()
		p.writeRest()
		return errors.Join(err, p.sp.Close())
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(2*p.cfg.Window),
		jetstream.WithPublishAsyncTimeout(p.cfg.AckTimeout))
	if err != nil {
		nc.Close()
		return errors.Join(fmt.Errorf("bus: jetstream: %w", err), p.sp.Close())
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.writer(ctx)
	}()
	go func() {
		defer wg.Done()
		p.sender(ctx, nc, js, connCh)
	}()
	<-ctx.Done()
	wg.Wait()
	nc.Close()
	p.connected.Store(false)
	return p.sp.Close()
}

// connect dials the bus. It does not wait for the node: the connection
// retries in the background, forever, with a growing delay; a revoked
// sensor keeps its events and keeps trying (and says so in the log).
func (p *Publisher) connect(connected func()) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("heir-sensor " + p.sensor),
		nats.CustomInboxPrefix(InboxPrefix(p.sensor)),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			return min(time.Duration(attempts)*250*time.Millisecond, 10*time.Second)
		}),
		nats.IgnoreAuthErrorAbort(),
		// The spool is the buffer: a publish while disconnected fails at
		// once rather than filling the client's own buffer.
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(*nats.Conn) {
			p.connected.Store(true)
			p.log.Info("bus: connected to the node", "sensor", p.sensor)
			connected()
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			p.connected.Store(true)
			p.reconnects.Add(1)
			p.log.Info("bus: reconnected to the node", "sensor", p.sensor)
			connected()
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			p.connected.Store(false)
			if err != nil {
				p.log.Warn("bus: disconnected from the node; spooling", "sensor", p.sensor, "err", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			// Permission violations and authorisation errors arrive here.
			p.log.Warn("bus: error from the node", "sensor", p.sensor, "err", err)
		}),
	}
	if c := p.cfg.Creds; c != nil {
		if c.NATSCredsFile != "" {
			opts = append(opts, nats.UserCredentials(c.NATSCredsFile))
		} else {
			kp, err := c.keyPair()
			if err != nil {
				return nil, err
			}
			pub, err := kp.PublicKey()
			if err != nil {
				return nil, err
			}
			opts = append(opts, nats.Nkey(pub, kp.Sign))
		}
	}
	switch {
	case p.cfg.TLS != nil:
		opts = append(opts, nats.Secure(p.cfg.TLS))
	case p.cfg.Creds != nil && p.cfg.Creds.CA != "":
		pool, err := certPool([]byte(p.cfg.Creds.CA))
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	opts = append(opts, p.cfg.NATSOptions...)
	nc, err := nats.Connect(strings.Join(p.cfg.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to %s: %w", redactURLs(p.cfg.URLs), err)
	}
	if nc.IsConnected() {
		p.connected.Store(true)
		connected()
	}
	return nc, nil
}

// redactURLs hides passwords in URLs for messages.
func redactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		if u, err := url.Parse(s); err == nil {
			out[i] = u.Redacted()
		} else {
			out[i] = "(unparsable URL)"
		}
	}
	return strings.Join(out, ",")
}

// writer moves records from the queue to the spool, in batches, and syncs
// the spool once a second. When ctx ends it stops the queue and writes
// what remains.
func (p *Publisher) writer(ctx context.Context) {
	tick := time.NewTicker(syncEvery)
	defer tick.Stop()
	batch := make([]item, 0, writeBatch)
	for {
		select {
		case <-ctx.Done():
			p.closeQueue()
			p.writeRest()
			return
		case it := <-p.q:
			batch = append(batch[:0], it)
			size := len(it.data)
		more:
			for len(batch) < writeBatch && size < 4<<20 {
				select {
				case it := <-p.q:
					batch = append(batch, it)
					size += len(it.data)
				default:
					break more
				}
			}
			p.write(batch)
		case <-tick.C:
			if err := p.sp.Sync(); err != nil {
				p.log.Warn("bus: spool sync failed", "err", err)
			}
		}
	}
}

// writeRest drains the closed queue into the spool.
func (p *Publisher) writeRest() {
	var batch []item
	for {
		select {
		case it := <-p.q:
			batch = append(batch, it)
			if len(batch) == writeBatch {
				p.write(batch)
				batch = batch[:0]
			}
		default:
			if len(batch) > 0 {
				p.write(batch)
			}
			return
		}
	}
}

// write encodes a batch of envelopes and appends them to the spool. A
// spool record is: type length (1 byte), type, id (32 hex), envelope.
func (p *Publisher) write(batch []item) {
	seq := p.sp.NextSeq()
	recs := make([][]byte, len(batch))
	var bytes int64
	for i, it := range batch {
		id := EventID(p.sensor, it.typ, it.data)
		r := make([]byte, 0, 1+len(it.typ)+len(id)+len(it.data)+envelopeOverhead)
		r = append(r, byte(len(it.typ)))
		r = append(r, it.typ...)
		r = append(r, id...)
		r = appendEnvelope(r, id, p.sensor, seq+uint64(i), it.typ, it.t, it.data)
		recs[i] = r
		bytes += int64(len(it.data))
	}
	// The queue's byte count drops only once the records are in the spool,
	// so that Drain never sees them in neither.
	defer p.qBytes.Add(-bytes)
	if _, err := p.sp.Append(recs...); err != nil {
		p.dropSpoolErr.Add(uint64(len(batch)))
		p.log.Error("bus: spool write failed; events dropped", "events", len(batch), "err", err)
		return
	}
	p.spooled.Add(uint64(len(batch)))
}

// parseSpoolRecord splits a spool record made by write.
func parseSpoolRecord(r []byte) (typ, id string, env []byte, ok bool) {
	if len(r) < 1 {
		return "", "", nil, false
	}
	n := int(r[0])
	if len(r) < 1+n+32 {
		return "", "", nil, false
	}
	return string(r[1 : 1+n]), string(r[1+n : 1+n+32]), r[1+n+32:], true
}

// sender publishes the spool in order, a window at a time, and
// acknowledges spool records once JetStream acknowledged them. After a
// failure it resends from the first unacknowledged record: JetStream drops
// the resent duplicates within its window, the node's store after it.
func (p *Publisher) sender(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, connCh <-chan struct{}) {
	bo := newBackoff(100*time.Millisecond, 5*time.Second)
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	wait := func(ch <-chan struct{}) bool {
		idle.Reset(time.Second)
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		case <-idle.C:
		}
		return true
	}
	for ctx.Err() == nil {
		if !nc.IsConnected() {
			if !wait(connCh) {
				return
			}
			continue
		}
		entries, err := p.sp.Read(p.cfg.Window, 8<<20)
		if err != nil {
			p.log.Error("bus: spool read failed", "err", err)
			p.sp.Rewind()
			if !sleepCtx(ctx, bo.next()) {
				return
			}
			continue
		}
		if len(entries) == 0 {
			if !wait(p.sp.Appended()) {
				return
			}
			continue
		}
		if p.sendWindow(ctx, js, entries) {
			bo.reset()
			continue
		}
		p.sp.Rewind()
		if !sleepCtx(ctx, bo.next()) {
			return
		}
	}
}

// sendWindow publishes entries and waits for their acknowledgements in
// order. It acknowledges the longest acknowledged prefix in the spool and
// reports whether all went through.
func (p *Publisher) sendWindow(ctx context.Context, js jetstream.JetStream, entries []spool.Entry) bool {
	type sent struct {
		seq uint64
		fut jetstream.PubAckFuture
	}
	futs := make([]sent, 0, len(entries))
	var pubErr error
	for _, e := range entries {
		typ, id, env, ok := parseSpoolRecord(e.Data)
		if !ok {
			// Not ours (the spool checks integrity, so this is a bug or
			// a foreign file): skip it rather than block the queue.
			p.dropSpoolErr.Add(1)
			futs = append(futs, sent{seq: e.Seq})
			continue
		}
		msg := nats.NewMsg(Subject(p.topo.Prefix, p.sensor, typ))
		msg.Data = env
		msg.Header.Set(jetstream.MsgIDHeader, id)
		f, err := js.PublishMsgAsync(msg)
		if errors.Is(err, nats.ErrMaxPayload) {
			p.dropLarge.Add(1)
			futs = append(futs, sent{seq: e.Seq})
			continue
		}
		if err != nil {
			pubErr = err
			break
		}
		futs = append(futs, sent{seq: e.Seq, fut: f})
	}
	var acked uint64
	ok := pubErr == nil
wait:
	for _, s := range futs {
		if s.fut == nil {
			acked = s.seq
			continue
		}
		select {
		case <-ctx.Done():
			ok = false
			break wait
		case pa := <-s.fut.Ok():
			p.published.Add(1)
			if pa.Duplicate {
				p.duplicates.Add(1)
			}
			acked = s.seq
		case err := <-s.fut.Err():
			pubErr = err
			ok = false
			break wait
		}
	}
	if acked > 0 {
		if err := p.sp.Ack(acked); err != nil {
			p.log.Error("bus: spool acknowledgement failed", "err", err)
			ok = false
		}
	}
	if pubErr != nil {
		p.pubErrors.Add(1)
		p.log.Debug("bus: publish failed; will resend from the first unacknowledged event", "err", pubErr)
	}
	return ok
}
