package ml

import "golang.org/x/sys/cpu"

// fastKernels says whether the assembly kernels can run: sumLeaves needs
// AVX (8 float32 lanes); walkGroups needs only the amd64 base set.
func fastKernels() bool { return cpu.X86.HasAVX }

// blockKernel says whether walkBlock can run (AVX-512: 16 rows a register,
// gathers, VPERMI2D).
func blockKernel() bool { return cpu.X86.HasAVX512F }

// walkGroups walks groups×8 trees of the fast layout (depth levels each)
// for the row's keys x and writes, per tree, the byte offset of its leaf row in the
// values: (row0 + t×s + r) × rowBytes for tree t of the call, r its final
// heap index in [s, 2s).
//
//go:noescape
func walkGroups(nodes *fnode, groups, depth int, x *uint32, offs *int32, rowBytes, s, row0 int)

// sumLeaves adds the leaf rows at offs (one every step bytes) into acc
// (chunks×8 float32): n4 groups of four, then n1 single rows.
//
//go:noescape
func sumLeaves(vals *float32, offs *int32, step, n4, n1, chunks int, acc *float32)

// walkBlock walks 64 rows (their keys, row r at keys[rowoff[r]:]) through
// nt trees of depth ≤ 6 and writes offs[64t + r], the byte offset of row
// r's leaf row in tree t: (t·s + idx − s) × rowBytes.
//
//go:noescape
func walkBlock(tbl *uint32, nt, depth int, keys *uint32, rowoff *int32, offs *int32, rowBytes, s int)

// sumBlock is sumLeaves for the nrows rows of a walkBlock, tree-major;
// acc holds nrows rows of chunks×8 float32.
//
//go:noescape
func sumBlock(vals *float32, offs *int32, nrows, n4, n1, chunks int, acc *float32)
