package bus

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// CredentialsType is the "type" of a sensor credentials file.
const CredentialsType = "heir-sensor-credentials"

// maxCredsFile bounds a credentials or registry file read from disk.
const (
	maxCredsFile    = 256 << 10
	maxRegistryFile = 16 << 20
)

// natsCredsMarker starts a NATS decentralised-auth .creds file (from nsc),
// which a sensor may use instead of heir's own credentials to reach an
// existing NATS cluster.
const natsCredsMarker = "-----BEGIN NATS USER JWT-----"

// Credentials let one sensor publish to the node's bus. heir's own
// credentials file is JSON (0600: it holds the sensor's secret):
//
//	{"v":1,"type":"heir-sensor-credentials","sensor":"icu3","seed":"SUA…",
//	 "urls":["tls://node.hospital.local:4222"],"ca":"-----BEGIN CERTIFICATE-----…",
//	 "issued":"2026-…Z"}
//
// Seed is an NATS nkey user seed; the node keeps only its public key. CA,
// when set, is the PEM certificate(s) the sensor trusts for the node's TLS.
type Credentials struct {
	V      int       `json:"v"`
	Type   string    `json:"type"`
	Sensor string    `json:"sensor"`
	Seed   string    `json:"seed,omitempty"`
	URLs   []string  `json:"urls,omitempty"`
	CA     string    `json:"ca,omitempty"`
	Prefix string    `json:"prefix,omitempty"`
	Issued time.Time `json:"issued"`

	// NATSCredsFile, set by ReadCredentials for a NATS .creds file, is used
	// instead of Seed.
	NATSCredsFile string `json:"-"`
}

// LogValue keeps the seed out of logs.
func (c *Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("sensor", c.Sensor), slog.Any("urls", c.URLs),
		slog.Bool("tls_ca", c.CA != ""), slog.Bool("nats_creds", c.NATSCredsFile != ""))
}

// PublicKey returns the nkey public key of the credentials' seed.
func (c *Credentials) PublicKey() (string, error) {
	kp, err := c.keyPair()
	if err != nil {
		return "", err
	}
	defer kp.Wipe()
	return kp.PublicKey()
}

func (c *Credentials) keyPair() (nkeys.KeyPair, error) {
	kp, err := nkeys.FromSeed([]byte(c.Seed))
	if err != nil {
		return nil, fmt.Errorf("credentials for sensor %s: bad seed: %w", c.Sensor, err)
	}
	if pub, err := kp.PublicKey(); err != nil || !nkeys.IsValidPublicUserKey(pub) {
		kp.Wipe()
		return nil, fmt.Errorf("credentials for sensor %s: the seed is not a user key", c.Sensor)
	}
	return kp, nil
}

// Validate checks the credentials' fields.
func (c *Credentials) Validate() error {
	if c.V != 1 || c.Type != CredentialsType {
		return fmt.Errorf("not heir sensor credentials (v %d, type %.40q)", c.V, c.Type)
	}
	if err := ValidSensorName(c.Sensor); err != nil {
		return err
	}
	if c.Prefix != "" {
		if err := validPrefix(c.Prefix); err != nil {
			return err
		}
	}
	if c.CA != "" {
		if _, err := certPool([]byte(c.CA)); err != nil {
			return fmt.Errorf("credentials for sensor %s: %w", c.Sensor, err)
		}
	}
	if c.NATSCredsFile != "" {
		return nil
	}
	kp, err := c.keyPair()
	if err != nil {
		return err
	}
	kp.Wipe()
	return nil
}

// ParseCredentials decodes heir's credentials file format.
func ParseCredentials(b []byte) (*Credentials, error) {
	if len(b) > maxCredsFile {
		return nil, fmt.Errorf("credentials file too large (%d bytes)", len(b))
	}
	var c Credentials
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse credentials: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ReadCredentials reads a sensor's credentials: heir's JSON file, or a
// NATS .creds file (for an existing cluster whose operator issues them;
// sensor then names the sensor, since such files do not). It refuses files
// that others than the owner can read.
func ReadCredentials(path, sensor string) (*Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("credentials file %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCredsFile+1))
	if err != nil {
		return nil, fmt.Errorf("read credentials %s: %w", path, err)
	}
	if bytes.Contains(b[:min(len(b), 4096)], []byte(natsCredsMarker)) {
		if err := ValidSensorName(sensor); err != nil {
			return nil, fmt.Errorf("NATS credentials file %s: name the sensor: %w", path, err)
		}
		return &Credentials{V: 1, Type: CredentialsType, Sensor: sensor, NATSCredsFile: path}, nil
	}
	c, err := ParseCredentials(b)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	if sensor != "" && sensor != c.Sensor {
		return nil, fmt.Errorf("credentials %s are for sensor %s, not %s", path, c.Sensor, sensor)
	}
	return c, nil
}

// WriteFile writes the credentials with mode 0600, refusing to replace an
// existing file.
func (c *Credentials) WriteFile(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	return f.Close()
}

func certPool(pemBytes []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := pemBytes; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("no CA certificate in PEM data")
	}
	return pool, nil
}

// Sensor is one entry of the registry: a sensor the node issued
// credentials to.
type Sensor struct {
	Name    string     `json:"name"`
	NKey    string     `json:"nkey"` // public key; the seed is only in the sensor's file
	Issued  time.Time  `json:"issued"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// Active says whether the sensor may connect.
func (s Sensor) Active() bool { return s.Revoked == nil }

type registryFile struct {
	V       int      `json:"v"`
	Sensors []Sensor `json:"sensors"`
}

// Errors of Registry.
var (
	ErrSensorExists = errors.New("sensor already has credentials")
	ErrNoSensor     = errors.New("no such sensor")
)

// Registry is the node's list of sensors allowed on its bus, a JSON file in
// the node's data directory (sensors.json). It holds public keys only.
// `heir sensor add` and `heir sensor revoke` change it; a running node
// (Server.Watch) applies changes within a second or two: new sensors may
// connect, revoked ones are disconnected and refused. Changes take a file
// lock, so concurrent commands do not lose each other's updates.
type Registry struct {
	path string
}

// NewRegistry returns the registry kept in path (which need not exist yet).
func NewRegistry(path string) *Registry { return &Registry{path: path} }

// Path returns the registry's file.
func (r *Registry) Path() string { return r.path }

// List returns every sensor, revoked ones included, by name.
func (r *Registry) List() ([]Sensor, error) {
	rf, _, err := r.load()
	if err != nil {
		return nil, err
	}
	return rf.Sensors, nil
}

// Add issues credentials for a new sensor (or one whose credentials were
// revoked: it gets a new key). The returned credentials hold the secret
// seed, which the registry does not keep: write them out at once.
func (r *Registry) Add(name string, now time.Time) (*Credentials, error) {
	if err := ValidSensorName(name); err != nil {
		return nil, err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("create sensor key: %w", err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("create sensor key: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("create sensor key: %w", err)
	}
	now = now.UTC()
	err = r.update(func(rf *registryFile) error {
		i := slices.IndexFunc(rf.Sensors, func(s Sensor) bool { return s.Name == name })
		entry := Sensor{Name: name, NKey: pub, Issued: now}
		switch {
		case i < 0:
			rf.Sensors = append(rf.Sensors, entry)
		case rf.Sensors[i].Active():
			return fmt.Errorf("%w: %s (revoke it first to issue new ones)", ErrSensorExists, name)
		default:
			rf.Sensors[i] = entry
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Credentials{V: 1, Type: CredentialsType, Sensor: name, Seed: string(seed), Issued: now}, nil
}

// Revoke withdraws a sensor's credentials.
func (r *Registry) Revoke(name string, now time.Time) error {
	now = now.UTC()
	return r.update(func(rf *registryFile) error {
		i := slices.IndexFunc(rf.Sensors, func(s Sensor) bool { return s.Name == name })
		if i < 0 {
			return fmt.Errorf("%w: %s", ErrNoSensor, name)
		}
		if rf.Sensors[i].Active() {
			rf.Sensors[i].Revoked = &now
		}
		return nil
	})
}

// load reads the registry and a digest of its bytes (to notice changes). A
// missing file is an empty registry.
func (r *Registry) load() (registryFile, [32]byte, error) {
	var rf registryFile
	b, err := readLimited(r.path, maxRegistryFile)
	if errors.Is(err, os.ErrNotExist) {
		return registryFile{V: 1}, [32]byte{}, nil
	}
	if err != nil {
		return rf, [32]byte{}, fmt.Errorf("sensor registry: %w", err)
	}
	if err := json.Unmarshal(b, &rf); err != nil {
		return rf, [32]byte{}, fmt.Errorf("sensor registry %s: %w", r.path, err)
	}
	if rf.V != 1 {
		return rf, [32]byte{}, fmt.Errorf("sensor registry %s: unknown version %d", r.path, rf.V)
	}
	for _, s := range rf.Sensors {
		if err := ValidSensorName(s.Name); err != nil {
			return rf, [32]byte{}, fmt.Errorf("sensor registry %s: %w", r.path, err)
		}
		if !nkeys.IsValidPublicUserKey(s.NKey) {
			return rf, [32]byte{}, fmt.Errorf("sensor registry %s: sensor %s has a bad key", r.path, s.Name)
		}
	}
	return rf, sha256.Sum256(b), nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// update changes the registry under its lock and replaces the file
// atomically.
func (r *Registry) update(change func(*registryFile) error) error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("sensor registry: %w", err)
	}
	unlock, err := lockFile(r.path + ".lock")
	if err != nil {
		return fmt.Errorf("sensor registry: lock: %w", err)
	}
	defer unlock()
	rf, _, err := r.load()
	if err != nil {
		return err
	}
	if err := change(&rf); err != nil {
		return err
	}
	slices.SortFunc(rf.Sensors, func(a, b Sensor) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return err
	}
	tmp := r.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("sensor registry: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("sensor registry: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sensor registry: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sensor registry: %w", err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		return fmt.Errorf("sensor registry: %w", err)
	}
	return nil
}
