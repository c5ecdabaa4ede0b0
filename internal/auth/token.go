package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
)

// Prefixes make heir's secrets recognisable (to secret scanners, and to
// people who paste them where they should not).
const (
	TokenPrefix   = "heir_tok_"
	SessionPrefix = "heir_ses_"
	SensorPrefix  = "heir_sen_"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a new random secret with prefix (256 bits of entropy)
// and the hash to store in its place. The secret is shown once; heir keeps
// only the hash, so a copy of the database gives no working credential.
func NewSecret(prefix string) (secret, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("auth: random: %w", err)
	}
	secret = prefix + strings.ToLower(b32.EncodeToString(b[:]))
	return secret, HashSecret(secret), nil
}

// HashSecret returns the hash stored for a secret. Secrets are random and
// long, so a plain SHA-256 is enough (no password stretching needed).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches compares a presented secret with a stored hash in
// constant time.
func SecretMatches(secret, storedHash string) bool {
	h := HashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(h), []byte(storedHash)) == 1
}

// WellFormed says whether s looks like a secret of the given prefix, so
// that garbage is refused before any lookup.
func WellFormed(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	body := s[len(prefix):]
	if len(body) != 52 {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
