package bus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// EnvelopeVersion is the "v" of envelopes.
const EnvelopeVersion = 1

// MaxMessageBytes bounds one envelope on the wire (and the stream's
// max_msg_size): a record larger than this is refused by Publish and
// counted as dropped. The NATS default max_payload is 1 MiB.
const MaxMessageBytes = 1 << 20

// maxSensorName bounds a sensor name; it is a subject token.
const maxSensorName = 64

// Record types the bus carries: the event package's, and the sensor's
// statistics.
var recordTypes = map[string]bool{
	event.TypeFlow:        true,
	event.TypeObservation: true,
	event.TypeAsset:       true,
	event.TypeFinding:     true,
	event.TypeAlert:       true,
	event.TypeStats:       true,
}

// KnownType says whether typ is a record type the bus carries.
func KnownType(typ string) bool { return recordTypes[typ] }

// Envelope is one event on the bus: a record of docs/events.md wrapped
// with who sent it and an id the node stores it under exactly once.
//
// ID is derived from content: the first 128 bits, in hex, of
// SHA-256("heir-event-v1" NUL sensor NUL type NUL data). A record the
// sensor sends again (after a lost acknowledgement, a crash, a reconnect)
// keeps its id, and so does the same record from a replay of the same
// capture. Two records with identical bytes from one sensor are one event:
// every record type carries times, frame numbers or counters that make
// distinct events differ.
//
// Seq numbers a sensor's envelopes in the order it spooled them (from 1,
// kept across restarts by the spool); a gap means the sensor dropped
// records (its spool was full or corrupt). Time is when the sensor queued
// the record.
type Envelope struct {
	V      int             `json:"v"`
	ID     string          `json:"id"`
	Sensor string          `json:"sensor"`
	Seq    uint64          `json:"seq"`
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// EventID derives an envelope's id from its sensor, type and record bytes.
func EventID(sensor, typ string, data []byte) string {
	h := sha256.New()
	h.Write([]byte("heir-event-v1\x00"))
	h.Write([]byte(sensor))
	h.Write([]byte{0})
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write(data)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// appendEnvelope encodes an envelope without re-validating data, which the
// caller produced with encoding/json.
func appendEnvelope(b []byte, id, sensor string, seq uint64, typ string, t time.Time, data []byte) []byte {
	b = append(b, `{"v":1,"id":"`...)
	b = append(b, id...)
	b = append(b, `","sensor":"`...)
	b = append(b, sensor...) // validated: [a-z0-9-]
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"type":"`...)
	b = append(b, typ...) // one of recordTypes
	b = append(b, `","time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// Errors of DecodeEnvelope; the node terminates such messages (they can
// never succeed) and counts them.
var (
	ErrMalformed = errors.New("malformed envelope")
	ErrSpoofed   = errors.New("envelope does not match its subject")
)

// DecodeEnvelope parses and checks an envelope received on subject (the
// subject names the sender: the server enforced it with the sender's
// permissions, so an envelope claiming another sensor is refused). It
// checks the id against the content, so a record altered after it was
// spooled is refused too.
func DecodeEnvelope(prefix, subject string, b []byte) (Envelope, error) {
	var env Envelope
	if len(b) > MaxMessageBytes {
		return env, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&env); err != nil {
		return env, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return env, fmt.Errorf("%w: data after the envelope", ErrMalformed)
	}
	switch {
	case env.V != EnvelopeVersion:
		return env, fmt.Errorf("%w: version %d", ErrMalformed, env.V)
	case !KnownType(env.Type):
		return env, fmt.Errorf("%w: unknown type %.32q", ErrMalformed, env.Type)
	case ValidSensorName(env.Sensor) != nil:
		return env, fmt.Errorf("%w: sensor name %.70q", ErrMalformed, env.Sensor)
	case len(env.Data) == 0 || env.Data[0] != '{':
		return env, fmt.Errorf("%w: data is not an object", ErrMalformed)
	case env.Seq == 0:
		return env, fmt.Errorf("%w: no sequence number", ErrMalformed)
	case env.Time.UTC().Year() < 1 || env.Time.UTC().Year() > 9999:
		return env, fmt.Errorf("%w: time out of range", ErrMalformed)
	}
	env.Time = env.Time.UTC()
	sensor, typ, ok := ParseSubject(prefix, subject)
	if !ok || sensor != env.Sensor || typ != env.Type {
		return env, fmt.Errorf("%w: %s/%s on subject %.100q", ErrSpoofed, env.Sensor, env.Type, subject)
	}
	if id := EventID(env.Sensor, env.Type, env.Data); id != env.ID {
		return env, fmt.Errorf("%w: id %.40q is not the content's %s", ErrMalformed, env.ID, id)
	}
	return env, nil
}

// Decode returns the envelope's record as its event type (*event.Flow,
// *event.Observation, *event.Asset, *event.Finding, *event.Alert), or the
// raw JSON for statistics.
func (e Envelope) Decode() (any, error) {
	var v any
	switch e.Type {
	case event.TypeFlow:
		v = new(event.Flow)
	case event.TypeObservation:
		v = new(event.Observation)
	case event.TypeAsset:
		v = new(event.Asset)
	case event.TypeFinding:
		v = new(event.Finding)
	case event.TypeAlert:
		v = new(event.Alert)
	case event.TypeStats:
		return e.Data, nil
	default:
		return nil, fmt.Errorf("decode %s record: unknown type", e.Type)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return nil, fmt.Errorf("decode %s record %s: %w", e.Type, e.ID, err)
	}
	return v, nil
}

// ValidSensorName checks a sensor name: 1 to 64 of a-z, 0-9 and '-', not
// starting with '-'. Names are subject tokens and file names, so nothing
// else is allowed.
func ValidSensorName(name string) error {
	if name == "" || len(name) > maxSensorName {
		return fmt.Errorf("sensor name must be 1 to %d characters", maxSensorName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return fmt.Errorf("sensor name %q: use lower-case letters, digits and '-' (not first)", name)
		}
	}
	return nil
}

// validPrefix checks a subject prefix: one or more tokens of letters,
// digits, '-' and '_', separated by dots.
func validPrefix(p string) error {
	if p == "" || len(p) > 64 {
		return fmt.Errorf("subject prefix %q: must be 1 to 64 characters", p)
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("subject prefix %q: empty token", p)
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("subject prefix %q: use letters, digits, '-', '_' and dots", p)
			}
		}
	}
	return nil
}

// Subject is where a sensor publishes records of a type:
// <prefix>.<sensor>.<type>.
func Subject(prefix, sensor, typ string) string { return prefix + "." + sensor + "." + typ }

// ParseSubject splits a subject made by Subject.
func ParseSubject(prefix, subject string) (sensor, typ string, ok bool) {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return "", "", false
	}
	sensor, typ, ok = strings.Cut(rest, ".")
	if !ok || strings.Contains(typ, ".") {
		return "", "", false
	}
	return sensor, typ, true
}
