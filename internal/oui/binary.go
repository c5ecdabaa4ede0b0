package oui

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The compact form embedded in the binary: gzip over
//
//	magic "HEIROUI1"
//	uvarint number of names, then each name as uvarint length + bytes
//	uvarint number of blocks, then per block in key order:
//	    uvarint key minus previous key, uvarint name index
//
// Names are shared by many blocks (Cisco, Apple and Huawei hold a thousand
// each), and the sorted keys delta-encode to a byte or two, which keeps the
// 46,000 assignments under 400 KB.
const magic = "HEIROUI1"

// Bounds for decoding, well above the listings' sizes.
const (
	maxNames   = 1 << 20
	maxBlocks  = 1 << 21
	maxDecoded = 32 << 20
)

// WriteBinary writes r in the compact embedded form.
func (r *Registry) WriteBinary(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(zw)
	var tmp [binary.MaxVarintLen64]byte
	put := func(v uint64) {
		n := binary.PutUvarint(tmp[:], v)
		bw.Write(tmp[:n])
	}
	bw.WriteString(magic)
	put(uint64(len(r.names)))
	for _, n := range r.names {
		put(uint64(len(n)))
		bw.WriteString(n)
	}
	put(uint64(len(r.keys)))
	prev := uint64(0)
	for i, k := range r.keys {
		put(k - prev)
		put(uint64(r.orgs[i]))
		prev = k
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write OUI table: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write OUI table: %w", err)
	}
	return nil
}

var errCorrupt = errors.New("corrupt OUI table")

// ReadBinary reads the compact form WriteBinary wrote.
func ReadBinary(data []byte) (*Registry, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read OUI table: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxDecoded+1))
	if err != nil {
		return nil, fmt.Errorf("read OUI table: %w", err)
	}
	if len(raw) > maxDecoded {
		return nil, fmt.Errorf("read OUI table: larger than %d bytes: %w", maxDecoded, errCorrupt)
	}
	return decode(raw)
}

func decode(raw []byte) (*Registry, error) {
	if !bytes.HasPrefix(raw, []byte(magic)) {
		return nil, fmt.Errorf("read OUI table: bad magic: %w", errCorrupt)
	}
	p := raw[len(magic):]
	bad := false
	get := func() uint64 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			bad = true
			p = nil
			return 0
		}
		p = p[n:]
		return v
	}
	nn := get()
	if bad || nn > maxNames || nn > uint64(len(p)) {
		return nil, fmt.Errorf("read OUI table: name count: %w", errCorrupt)
	}
	r := &Registry{names: make([]string, 0, nn)}
	for i := uint64(0); i < nn; i++ {
		l := get()
		if bad || l > maxName*4 || l > uint64(len(p)) {
			return nil, fmt.Errorf("read OUI table: name %d: %w", i, errCorrupt)
		}
		r.names = append(r.names, string(p[:l]))
		p = p[l:]
	}
	nb := get()
	if bad || nb > maxBlocks || nb > uint64(len(p))/2 {
		return nil, fmt.Errorf("read OUI table: block count: %w", errCorrupt)
	}
	r.keys = make([]uint64, 0, nb)
	r.orgs = make([]uint32, 0, nb)
	prev := uint64(0)
	for i := uint64(0); i < nb; i++ {
		d, o := get(), get()
		k := prev + d
		if bad || (i > 0 && d == 0) || k < prev || o >= nn || !validKey(k) {
			return nil, fmt.Errorf("read OUI table: block %d: %w", i, errCorrupt)
		}
		r.keys = append(r.keys, k)
		r.orgs = append(r.orgs, uint32(o))
		prev = k
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("read OUI table: %d trailing bytes: %w", len(p), errCorrupt)
	}
	return r, nil
}

// validKey says whether k is a block of a known length whose address bits
// beyond the block are zero.
func validKey(k uint64) bool {
	bits := uint(k & 0xff)
	if bits != bitsMAL && bits != bitsMAM && bits != bitsMAS {
		return false
	}
	v := k >> 8
	return v>>48 == 0 && v&(1<<(48-bits)-1) == 0
}

// gunzip is ReadBinary's first half, for tests and fuzzing of decode.
func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, maxDecoded+1))
}
