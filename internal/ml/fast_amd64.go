package ml

import "golang.org/x/sys/cpu"

// fastKernels says whether the assembly kernels can run: sumLeaves needs
// AVX (8 float32 lanes); walkGroups needs only the amd64 base set.
func fastKernels() bool { return cpu.X86.HasAVX }

// walkGroups walks groups×8 trees of the fast layout (depth levels each)
// for the row's keys x and writes, per tree, the byte offset of its leaf row in the
// values: (row0 + t×s + r) × rowBytes for tree t of the call, r its final
// heap index in [s, 2s).
//
//go:noescape
func walkGroups(nodes *fnode, groups, depth int, x *uint32, offs *int32, rowBytes, s, row0 int)

// sumLeaves adds the leaf rows at offs into acc (chunks×8 float32): n4
// groups of four, then n1 single rows.
//
//go:noescape
func sumLeaves(vals *float32, offs *int32, n4, n1, chunks int, acc *float32)
