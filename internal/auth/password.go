// Package auth holds what authentication and authorisation need that
// does not depend on storage or HTTP: password hashing (argon2id), API
// tokens and session identifiers (random, stored only as hashes), login
// rate limiting, and the role model that denies everything a role does not
// allow.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
	KeyLen  uint32
	SaltLen int
}

// DefaultParams follow RFC 9106's second recommended option (64 MiB,
// 3 passes), with one lane: a login costs about 0.1 s of one core here,
// which the login rate limiter keeps from being a denial of service.
var DefaultParams = Params{Time: 3, Memory: 64 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

// maxPassword bounds the password length accepted for hashing, so that a
// hostile login cannot make the server hash megabytes.
const maxPassword = 1024

// ErrBadHash says a stored hash is not an argon2id PHC string heir can read.
var ErrBadHash = errors.New("auth: stored password hash is not a valid argon2id string")

// ErrPasswordTooLong says a password is longer than heir accepts.
var ErrPasswordTooLong = errors.New("auth: password longer than 1024 bytes")

// HashPassword returns password hashed with argon2id and a random salt, in
// the PHC string format ($argon2id$v=19$m=…,t=…,p=…$salt$hash), which
// records its parameters so they can be raised later.
func HashPassword(password string, p Params) (string, error) {
	if len(password) > maxPassword {
		return "", ErrPasswordTooLong
	}
	if p.SaltLen < 8 || p.KeyLen < 16 || p.Time == 0 || p.Memory < 8*uint32(p.Threads) || p.Threads == 0 {
		return "", fmt.Errorf("auth: argon2id parameters too weak: %+v", p)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// VerifyPassword says whether password matches the stored hash, in
// constant time for a given hash.
func VerifyPassword(stored, password string) (bool, error) {
	p, salt, key, err := parseHash(stored)
	if err != nil {
		return false, err
	}
	if len(password) > maxPassword {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash says whether a stored hash was made with weaker parameters
// than p, so that a successful login can store a stronger one.
func NeedsRehash(stored string, p Params) bool {
	q, salt, key, err := parseHash(stored)
	if err != nil {
		return true
	}
	return q.Time < p.Time || q.Memory < p.Memory || len(salt) < p.SaltLen || uint32(len(key)) < p.KeyLen
}

// Bounds on parameters read from a stored hash, so that a tampered
// database cannot make a login allocate gigabytes or spin for minutes.
const (
	maxMemory = 1 << 20 // KiB: 1 GiB
	maxTime   = 64
)

func parseHash(s string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: version %q", ErrBadHash, parts[2])
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, ErrBadHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, ErrBadHash
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, ErrBadHash
		}
	}
	if p.Time == 0 || p.Time > maxTime || p.Memory == 0 || p.Memory > maxMemory || p.Threads == 0 || p.Memory < 8*uint32(p.Threads) {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrBadHash)
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, ErrBadHash
	}
	key, err := enc.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, ErrBadHash
	}
	p.SaltLen, p.KeyLen = len(salt), uint32(len(key))
	return p, salt, key, nil
}
