#include "textflag.h"

// STEP moves tree j of the group one level down: r = 2r + (x[feat] > thr).
// Node r of tree j is entry 8r+j (8 bytes: feat int32, thr key uint32).
// Thresholds and x are order-preserving keys (floatKey), so an unsigned
// compare decides: CMPL sets CF when thr < x, and ADC doubles r and adds
// CF in one instruction.
#define STEP(r, off) \
	LEAQ (r*8), AX \
	MOVL off+4(DI)(AX*8), DX \
	MOVL off(DI)(AX*8), AX \
	CMPL DX, (SI)(AX*4) \
	ADCQ r, r

// LEAF turns tree j's final r (in [s, 2s)) into the byte offset of its
// leaf row, (DX + r) × rowBytes, and moves DX to the next tree (DX is the
// row counter here, kept in row-16(SP) during the walk).
#define LEAF(r, off) \
	ADDQ  DX, r \
	IMULQ rowBytes+40(FP), r \
	MOVL  r, off(BX) \
	ADDQ  s+48(FP), DX

// func walkGroups(nodes *fnode, groups, depth int, x *uint32, offs *int32, rowBytes, s, row0 int)
TEXT ·walkGroups(SB), NOSPLIT, $16-64
	MOVQ nodes+0(FP), DI
	MOVQ x+24(FP), SI
	MOVQ offs+32(FP), BX
	MOVQ row0+56(FP), DX
	MOVQ DX, row-16(SP)
	MOVQ groups+8(FP), AX
	MOVQ AX, left-8(SP)

group:
	MOVQ $1, R8
	MOVQ $1, R9
	MOVQ $1, R10
	MOVQ $1, R11
	MOVQ $1, R12
	MOVQ $1, R13
	MOVQ $1, R14
	MOVQ $1, R15
	MOVQ depth+16(FP), CX

level:
	STEP(R8, 0)
	STEP(R9, 8)
	STEP(R10, 16)
	STEP(R11, 24)
	STEP(R12, 32)
	STEP(R13, 40)
	STEP(R14, 48)
	STEP(R15, 56)
	DECQ CX
	JNZ  level

	MOVQ row-16(SP), DX
	LEAF(R8, 0)
	LEAF(R9, 4)
	LEAF(R10, 8)
	LEAF(R11, 12)
	LEAF(R12, 16)
	LEAF(R13, 20)
	LEAF(R14, 24)
	LEAF(R15, 28)
	ADDQ $32, BX
	MOVQ DX, row-16(SP)

	// next group: 8 trees × s entries × 8 bytes
	MOVQ s+48(FP), AX
	SHLQ $6, AX
	ADDQ AX, DI
	DECQ left-8(SP)
	JNZ  group
	RET

// func sumLeaves(vals *float32, offs *int32, n4, n1, chunks int, acc *float32)
//
// For each chunk of 8 classes: acc += v0+v1+v2+v3 for n4 groups of four
// leaves, then acc += v for n1 single leaves: the order and grouping of
// the Go walk's float32 sums, so the result is bit for bit the same.
TEXT ·sumLeaves(SB), NOSPLIT, $0-48
	MOVQ vals+0(FP), DI
	MOVQ acc+40(FP), R8
	MOVQ chunks+32(FP), CX

chunk:
	VMOVUPS (R8), Y0
	MOVQ offs+8(FP), BX
	MOVQ n4+16(FP), DX
	TESTQ DX, DX
	JZ   singles

four:
	MOVL    0(BX), AX
	VMOVUPS (DI)(AX*1), Y1
	MOVL    4(BX), AX
	VADDPS  (DI)(AX*1), Y1, Y1
	MOVL    8(BX), AX
	VADDPS  (DI)(AX*1), Y1, Y1
	MOVL    12(BX), AX
	VADDPS  (DI)(AX*1), Y1, Y1
	VADDPS  Y1, Y0, Y0
	ADDQ    $16, BX
	DECQ    DX
	JNZ     four

singles:
	MOVQ n1+24(FP), DX
	TESTQ DX, DX
	JZ   store

one:
	MOVL   0(BX), AX
	VADDPS (DI)(AX*1), Y0, Y0
	ADDQ   $4, BX
	DECQ   DX
	JNZ    one

store:
	VMOVUPS Y0, (R8)
	ADDQ $32, DI
	ADDQ $32, R8
	DECQ CX
	JNZ  chunk
	VZEROUPPER
	RET
