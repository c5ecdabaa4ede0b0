package auth

import (
	"sync"
	"time"
)

// Limiter is a token bucket per key (a client address, a user name):
// each key may spend Burst attempts at once and earns one back every
// Every. It keeps at most MaxKeys keys; when full, the key idle longest is
// forgotten, which can only make a limit more lenient for that key, never
// lock anyone out. Safe for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration
	maxKeys int
	keys    map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter allowing burst attempts per key, refilled
// at one per every, remembering at most maxKeys keys.
func NewLimiter(burst int, every time.Duration, maxKeys int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Limiter{burst: float64(burst), every: every, maxKeys: maxKeys, keys: map[string]*bucket{}}
}

// Allow spends one attempt of key at now. When none is left it returns
// false and how long until the next one.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= l.maxKeys {
			l.evict()
		}
		b = &bucket{tokens: l.burst, last: now}
		l.keys[key] = b
	}
	if el := now.Sub(b.last); el > 0 && l.every > 0 {
		b.tokens = min(l.burst, b.tokens+float64(el)/float64(l.every))
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.every))
	return false, wait
}

// evict forgets the key idle longest. A linear scan: it runs only when the
// table is full, which a login limiter reaches only under attack, and then
// each new key costs one scan of a bounded table.
func (l *Limiter) evict() {
	var oldest string
	var t time.Time
	for k, b := range l.keys {
		if oldest == "" || b.last.Before(t) {
			oldest, t = k, b.last
		}
	}
	delete(l.keys, oldest)
}
