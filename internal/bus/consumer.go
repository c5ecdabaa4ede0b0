package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Handler stores what the node receives. Handle must be idempotent by
// env.ID (the same envelope may come more than once: after a node crash
// between the store's commit and the acknowledgement, or a sensor resend)
// and must return only after the envelope is durably stored: the consumer
// acknowledges it then, and JetStream forgets it.
//
// An error makes the consumer redeliver the envelope later; wrap it with
// Permanent when retrying cannot help (the record is refused), and the
// envelope is dropped and counted.
type Handler interface {
	Handle(ctx context.Context, env Envelope) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, env Envelope) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, env Envelope) error { return f(ctx, env) }

// ErrPermanent marks a handler error that a retry cannot fix.
var ErrPermanent = errors.New("permanent")

// Permanent wraps err so that the consumer drops the envelope instead of
// retrying it.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// Defaults of ConsumerConfig.
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 1024
	DefaultBufferBytes   = 16 << 20
	maxRetryDelay        = 30 * time.Second
)

// ConsumerConfig configures the node's consumer.
type ConsumerConfig struct {
	Topology Topology
	Limits   StreamLimits
	// AckWait is how long JetStream waits for the node's acknowledgement
	// before it delivers an envelope again (default 30 s). Envelopes wait
	// in the client's buffer too, so it should exceed MaxAckPending times
	// the handler's time per envelope, or buffered envelopes are
	// redelivered (harmlessly, but for nothing).
	AckWait time.Duration
	// MaxAckPending bounds the envelopes delivered and not yet
	// acknowledged (default 1024): the node's in-flight work and memory.
	MaxAckPending int
	// BufferBytes bounds the envelopes the client buffers ahead of the
	// handler (default 16 MiB, at least 2 MiB: two maximum-sized
	// messages).
	BufferBytes int
	// Workers is how many envelopes are handled at once (default 1: in
	// stream order). More help a store that takes concurrent writers
	// (PostgreSQL); the node's handler is idempotent and its merges do
	// not depend on arrival order, so order is not needed.
	Workers int
	// CreateStream makes the consumer create or update the stream (the
	// node owns it); without it the stream must exist.
	CreateStream bool
	Logger       *slog.Logger
}

// ConsumerStats are the node side's counters (cumulative).
type ConsumerStats struct {
	// Received counts deliveries, redeliveries included.
	Received uint64 `json:"received"`
	// Stored counts envelopes the handler accepted and the node
	// acknowledged.
	Stored uint64 `json:"stored"`
	// Redelivered counts deliveries JetStream made more than once.
	Redelivered uint64 `json:"redelivered"`
	// Rejected counts envelopes dropped: malformed, spoofed (sender not
	// matching the subject), or refused by the handler as permanent.
	Rejected uint64 `json:"rejected"`
	// Retried counts handler errors that will be retried.
	Retried uint64 `json:"retried"`
	// AckErrors counts acknowledgements that failed to send (the envelope
	// comes again and the idempotent handler absorbs it).
	AckErrors uint64 `json:"ack_errors"`
}

// Consumer pulls envelopes from the event stream's durable consumer and
// hands them to a Handler: one at a time, in stream order, unless
// ConsumerConfig.Workers asks for more.
type Consumer struct {
	nc   *nats.Conn
	cfg  ConsumerConfig
	h    Handler
	log  *slog.Logger
	topo Topology

	received, stored, redelivered, rejected, retried, ackErrors atomic.Uint64
}

// NewConsumer prepares a consumer on the node's connection (Server.Connect
// or Dial).
func NewConsumer(nc *nats.Conn, cfg ConsumerConfig, h Handler) (*Consumer, error) {
	topo, err := cfg.Topology.normalise()
	if err != nil {
		return nil, err
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.MaxAckPending == 0 {
		cfg.MaxAckPending = DefaultMaxAckPending
	}
	if cfg.BufferBytes == 0 {
		cfg.BufferBytes = DefaultBufferBytes
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.AckWait < time.Second || cfg.MaxAckPending < 1 || cfg.BufferBytes < 2*MaxMessageBytes || cfg.Workers < 1 || cfg.Workers > cfg.MaxAckPending {
		return nil, fmt.Errorf("bus: consumer needs an ack wait of at least 1s, a positive in-flight bound, a buffer of at least %d bytes and 1 to MaxAckPending workers", 2*MaxMessageBytes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{nc: nc, cfg: cfg, h: h, log: cfg.Logger, topo: topo}, nil
}

// Stats returns the consumer's counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Received:    c.received.Load(),
		Stored:      c.stored.Load(),
		Redelivered: c.redelivered.Load(),
		Rejected:    c.rejected.Load(),
		Retried:     c.retried.Load(),
		AckErrors:   c.ackErrors.Load(),
	}
}

// Run consumes until ctx ends. Envelopes delivered and not yet handled are
// left unacknowledged: JetStream delivers them again after AckWait. It
// returns nil on cancellation, or an error when the stream or consumer
// cannot be set up.
func (c *Consumer) Run(ctx context.Context) error {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		cons, err := c.setup(ctx, js)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The cluster may be unreachable at start: keep trying, and
			// say why.
			c.log.Warn("bus: consumer setup failed; retrying", "stream", c.topo.Stream, "err", err)
			if !sleepCtx(ctx, backoff.next()) {
				return nil
			}
			continue
		}
		backoff.reset()
		if err := c.consume(ctx, cons); err != nil && ctx.Err() == nil {
			c.log.Warn("bus: consumer interrupted; resuming", "err", err)
			if !sleepCtx(ctx, backoff.next()) {
				return nil
			}
		}
	}
	return nil
}

func (c *Consumer) setup(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var st jetstream.Stream
	var err error
	if c.cfg.CreateStream {
		st, err = EnsureStream(sctx, js, c.topo, c.cfg.Limits)
	} else {
		st, err = js.Stream(sctx, c.topo.Stream)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", c.topo.Stream, err)
	}
	cons, err := st.CreateOrUpdateConsumer(sctx, jetstream.ConsumerConfig{
		Durable:       c.topo.Durable,
		Description:   "heir node: stores every event once",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		MaxAckPending: c.cfg.MaxAckPending,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: c.topo.Prefix + ".>",
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", c.topo.Durable, err)
	}
	return cons, nil
}

func (c *Consumer) consume(ctx context.Context, cons jetstream.Consumer) error {
	// A byte bound, not a message count: envelopes are up to 1 MiB each,
	// and the server bounds their number with MaxAckPending.
	it, err := cons.Messages(jetstream.PullMaxBytes(c.cfg.BufferBytes))
	if err != nil {
		return err
	}
	defer it.Stop()
	next := func() (jetstream.Msg, error) {
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil && ctx.Err() == nil && errors.Is(err, jetstream.ErrNoHeartbeat) {
				continue // the iterator re-subscribes by itself
			}
			return msg, err
		}
	}
	if c.cfg.Workers == 1 {
		fails := 0
		for {
			msg, err := next()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if !c.handleOrWait(ctx, msg, &fails) {
				return nil
			}
		}
	}
	// Workers: one reader hands envelopes to the workers; each waits on
	// its own failures. An envelope in the channel when ctx ends is left
	// unacknowledged and comes again.
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() {
			fails := 0
			for msg := range msgs {
				if !c.handleOrWait(ctx, msg, &fails) {
					return
				}
			}
		})
	}
	defer wg.Wait()
	defer close(msgs)
	for {
		msg, err := next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case msgs <- msg:
		case <-ctx.Done():
			return nil
		}
	}
}

// handleOrWait handles one message; after a handler failure (the store is
// down?) it waits before the next envelope rather than spin through all
// of them. It reports false when ctx ended while waiting.
func (c *Consumer) handleOrWait(ctx context.Context, msg jetstream.Msg, fails *int) bool {
	if c.handle(ctx, msg) {
		*fails = 0
		return true
	}
	*fails++
	return sleepCtx(ctx, retryDelay(*fails))
}

// handle processes one message and reports whether the handler succeeded
// (or the message was dropped as malformed).
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) bool {
	c.received.Add(1)
	delivered := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	if delivered > 1 {
		c.redelivered.Add(1)
	}
	env, err := DecodeEnvelope(c.topo.Prefix, msg.Subject(), msg.Data())
	if err != nil {
		c.rejected.Add(1)
		c.log.Warn("bus: dropping a bad envelope", "subject", msg.Subject(), "bytes", len(msg.Data()), "err", err)
		if err := msg.Term(); err != nil {
			c.ackErrors.Add(1)
		}
		return true
	}
	err = c.h.Handle(ctx, env)
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			c.ackErrors.Add(1)
		}
		c.stored.Add(1)
		return true
	case errors.Is(err, ErrPermanent):
		c.rejected.Add(1)
		c.log.Warn("bus: handler refused an envelope", "id", env.ID, "sensor", env.Sensor, "type", env.Type, "err", err)
		if err := msg.Term(); err != nil {
			c.ackErrors.Add(1)
		}
		return true
	case ctx.Err() != nil:
		// Shutting down: leave it for redelivery.
		return true
	default:
		c.retried.Add(1)
		c.log.Warn("bus: handler failed; will retry", "id", env.ID, "sensor", env.Sensor, "delivery", delivered, "err", err)
		if err := msg.NakWithDelay(retryDelay(int(min(delivered, 64)))); err != nil {
			c.ackErrors.Add(1)
		}
		return false
	}
}

// retryDelay grows with the attempt number: 100 ms, 200 ms, … 30 s.
func retryDelay(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(lo, hi time.Duration) *backoff { return &backoff{min: lo, max: hi} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
