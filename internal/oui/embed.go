package oui

import (
	_ "embed"
	"sync"
)

//go:generate go run gen.go -dir /usr/share/ieee-data -origin "Debian package ieee-data"

//go:embed ieee.bin.gz
var embedded []byte

// embeddedOnce decodes the embedded table on first use. The registry it
// yields is never modified, so sharing it holds no mutable state.
var embeddedOnce = sync.OnceValues(func() (*Registry, error) { return ReadBinary(embedded) })

// Embedded returns the registry compiled into heir, generated from the
// IEEE listings named by EmbeddedSource on EmbeddedDate.
func Embedded() (*Registry, error) { return embeddedOnce() }

// EmbeddedSource and EmbeddedDate say where the embedded table comes from
// and the date of the IEEE listings it was built from.
const (
	EmbeddedSource = embeddedSource
	EmbeddedDate   = embeddedDate
)
