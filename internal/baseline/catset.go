package baseline

// entry is one remembered categorical value of a device: a peer, a
// service, a message kind, a hardware address.
type entry[T any] struct {
	key   uint64
	label string
	first int64 // capture time, ns
	last  int64
	n     uint32 // sightings
	// prov: seen first after learning and alerted, not yet confirmed
	// (ConfirmSightings over ConfirmAfter); forgotten first when the set
	// is full, and forgotten when unseen for ForgetAfter.
	prov bool
	val  T
}

// catSet is a bounded set of values keyed by a 64-bit hash of their
// canonical text (the label), so that the hot path can look a value up
// without building its text.
type catSet[T any] struct {
	m map[uint64]*entry[T]
}

func (s *catSet[T]) len() int { return len(s.m) }

func (s *catSet[T]) get(key uint64) *entry[T] {
	return s.m[key] // nil map: nil
}

// add inserts a value, forgetting the least recently seen one (a
// provisional one first) when the set holds max values already. It
// reports whether one was forgotten.
func (s *catSet[T]) add(key uint64, label string, t int64, max int) (*entry[T], bool) {
	if s.m == nil {
		s.m = make(map[uint64]*entry[T], 4)
	}
	evicted := false
	if len(s.m) >= max {
		s.evict()
		evicted = true
	}
	e := &entry[T]{key: key, label: label, first: t, last: t}
	s.m[key] = e
	return e, evicted
}

// evict forgets the least recently seen provisional value, or if none
// the least recently seen value. Ties go to the smaller key, so that the
// choice does not depend on map order. It scans the set: it runs only
// when a full set meets a new value.
func (s *catSet[T]) evict() {
	var victim *entry[T]
	for _, e := range s.m {
		if victim == nil || e.prov && !victim.prov ||
			e.prov == victim.prov && (e.last < victim.last || e.last == victim.last && e.key < victim.key) {
			victim = e
		}
	}
	if victim != nil {
		delete(s.m, victim.key)
	}
}

// establish makes every value normal (the end of learning).
func (s *catSet[T]) establish() {
	for _, e := range s.m {
		e.prov = false
	}
}

// fnv-1a, 64 bit, written out so that parts of a key can be hashed in
// turn without building the key's text.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

type hasher uint64

func newHasher() hasher { return fnvOffset }

func (h hasher) str(s string) hasher {
	for i := 0; i < len(s); i++ {
		h ^= hasher(s[i])
		h *= fnvPrime
	}
	return h
}

func (h hasher) byte(b byte) hasher {
	h ^= hasher(b)
	h *= fnvPrime
	return h
}

func (h hasher) bytes(b []byte) hasher {
	for _, c := range b {
		h ^= hasher(c)
		h *= fnvPrime
	}
	return h
}

func (h hasher) sum() uint64 { return uint64(h) }
