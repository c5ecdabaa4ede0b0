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

// func sumLeaves(vals *float32, offs *int32, step, n4, n1, chunks int, acc *float32)
//
// For each chunk of 8 classes: acc += v0+v1+v2+v3 for n4 groups of four
// leaves, then acc += v for n1 single leaves: the order and grouping of
// the Go walk's float32 sums, so the result is bit for bit the same.
// Consecutive offsets are step bytes apart.
TEXT ·sumLeaves(SB), NOSPLIT, $0-56
	MOVQ vals+0(FP), DI
	MOVQ step+16(FP), R9
	MOVQ acc+48(FP), R8
	MOVQ chunks+40(FP), CX

chunk:
	VMOVUPS (R8), Y0
	MOVQ offs+8(FP), BX
	MOVQ n4+24(FP), DX
	TESTQ DX, DX
	JZ   singles

four:
	MOVL    (BX), AX
	VMOVUPS (DI)(AX*1), Y1
	MOVL    (BX)(R9*1), AX
	VADDPS  (DI)(AX*1), Y1, Y1
	LEAQ    (BX)(R9*2), BX
	MOVL    (BX), AX
	VADDPS  (DI)(AX*1), Y1, Y1
	MOVL    (BX)(R9*1), AX
	VADDPS  (DI)(AX*1), Y1, Y1
	VADDPS  Y1, Y0, Y0
	LEAQ    (BX)(R9*2), BX
	DECQ    DX
	JNZ     four

singles:
	MOVQ n1+32(FP), DX
	TESTQ DX, DX
	JZ   store

one:
	MOVL   (BX), AX
	VADDPS (DI)(AX*1), Y0, Y0
	ADDQ   R9, BX
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

// LEVEL moves 16 rows (one chain: idx in zi, key offsets of its rows in
// zr) one level down one tree: feat and thr come from the tree's 64-entry
// tables by VPERMI2D (zf:the low 16 entries in a register, the next 16 at
// mem), x by a gather, and idx = 2 idx + (x > thr).
#define LEVEL(zi, zr, zlf, memf, zlt, memt) \
	VMOVDQA32  zi, Z8 \
	VPERMI2D   memf, zlf, Z8 \
	VMOVDQA32  zi, Z9 \
	VPERMI2D   memt, zlt, Z9 \
	VPADDD     zr, Z8, Z8 \
	KXNORW     K1, K1, K1 \
	VPGATHERDD (SI)(Z8*4), K1, Z10 \
	VPCMPUD    $6, Z9, Z10, K2 \
	VPADDD     zi, zi, zi \
	VPADDD     Z28, zi, K2, zi

#define STORE(zi, off) \
	VPADDD    Z30, zi, Z11 \
	VPMULLD   Z29, Z11, Z11 \
	VMOVDQU32 Z11, off(BX)

// func walkBlock(tbl *uint32, nt, depth int, keys *uint32, rowoff *int32, offs *int32, rowBytes, s int)
//
// Walks 64 rows through nt trees of depth ≤ 6, one tree at a time, four
// chains of 16 rows. Tree t's tables are tbl[128t:]: feat[64] then thr
// key[64], heap order from 1. Writes offs[64t + row] = byte offset of the
// row's leaf in the values: (t·s + idx − s) × rowBytes.
TEXT ·walkBlock(SB), NOSPLIT, $0-64
	MOVQ tbl+0(FP), DX
	MOVQ nt+8(FP), DI
	MOVQ keys+24(FP), SI
	MOVQ rowoff+32(FP), AX
	MOVQ offs+40(FP), BX
	VMOVDQU32 0(AX), Z24
	VMOVDQU32 64(AX), Z25
	VMOVDQU32 128(AX), Z26
	VMOVDQU32 192(AX), Z27
	MOVL $1, AX
	VPBROADCASTD AX, Z28
	MOVQ rowBytes+48(FP), AX
	VPBROADCASTD AX, Z29
	MOVQ s+56(FP), AX
	VPBROADCASTD AX, Z31
	NEGQ AX
	VPBROADCASTD AX, Z30 // t·s − s for t = 0
	// R8: levels walked with the low tables (entries 0-31), R9: 1 when
	// a sixth level uses the high ones (32-63).
	MOVQ depth+16(FP), R8
	XORQ R9, R9
	CMPQ R8, $6
	JNE  tree
	MOVQ $5, R8
	MOVQ $1, R9

tree:
	VMOVDQA32 Z28, Z4
	VMOVDQA32 Z28, Z5
	VMOVDQA32 Z28, Z6
	VMOVDQA32 Z28, Z7
	VMOVDQU32 0(DX), Z0
	VMOVDQU32 256(DX), Z1
	MOVQ R8, CX

low:
	LEVEL(Z4, Z24, Z0, 64(DX), Z1, 320(DX))
	LEVEL(Z5, Z25, Z0, 64(DX), Z1, 320(DX))
	LEVEL(Z6, Z26, Z0, 64(DX), Z1, 320(DX))
	LEVEL(Z7, Z27, Z0, 64(DX), Z1, 320(DX))
	DECQ CX
	JNZ  low

	TESTQ R9, R9
	JZ    leaves
	VMOVDQU32 128(DX), Z2
	VMOVDQU32 384(DX), Z3
	LEVEL(Z4, Z24, Z2, 192(DX), Z3, 448(DX))
	LEVEL(Z5, Z25, Z2, 192(DX), Z3, 448(DX))
	LEVEL(Z6, Z26, Z2, 192(DX), Z3, 448(DX))
	LEVEL(Z7, Z27, Z2, 192(DX), Z3, 448(DX))

leaves:
	STORE(Z4, 0)
	STORE(Z5, 64)
	STORE(Z6, 128)
	STORE(Z7, 192)
	VPADDD Z31, Z30, Z30
	ADDQ   $256, BX
	ADDQ   $512, DX
	DECQ   DI
	JNZ    tree
	VZEROUPPER
	RET

// func sumBlock(vals *float32, offs *int32, nrows, n4, n1, chunks int, acc *float32)
//
// sumLeaves for the rows of a walkBlock, tree-major so that the leaves of
// four trees stay in L1 while every row takes its leaf from each: offs is
// walkBlock's (64 rows per tree), acc nrows rows of chunks×8 float32. The
// additions are sumLeaves' (acc + (((v0+v1)+v2)+v3) per four trees, then
// acc + v per remaining tree), so the result is bit for bit the same.
TEXT ·sumBlock(SB), NOSPLIT, $0-56
	MOVQ vals+0(FP), DI
	MOVQ offs+8(FP), BX
	MOVQ n4+24(FP), R12
	TESTQ R12, R12
	JZ   tail

group4:
	MOVQ acc+48(FP), R8
	XORQ R9, R9
	MOVQ nrows+16(FP), R13

row4:
	MOVL 0(BX)(R9*1), AX
	MOVL 256(BX)(R9*1), DX
	MOVL 512(BX)(R9*1), SI
	MOVL 768(BX)(R9*1), R11
	MOVQ chunks+40(FP), CX
	MOVQ DI, R14

chunk4:
	VMOVUPS (R14)(AX*1), Y1
	VADDPS  (R14)(DX*1), Y1, Y1
	VADDPS  (R14)(SI*1), Y1, Y1
	VADDPS  (R14)(R11*1), Y1, Y1
	VADDPS  (R8), Y1, Y1
	VMOVUPS Y1, (R8)
	ADDQ    $32, R14
	ADDQ    $32, R8
	DECQ    CX
	JNZ     chunk4
	ADDQ    $4, R9
	DECQ    R13
	JNZ     row4
	ADDQ    $1024, BX
	DECQ    R12
	JNZ     group4

tail:
	MOVQ n1+32(FP), R12
	TESTQ R12, R12
	JZ   done

tree1:
	MOVQ acc+48(FP), R8
	XORQ R9, R9
	MOVQ nrows+16(FP), R13

row1:
	MOVL (BX)(R9*1), AX
	MOVQ chunks+40(FP), CX
	MOVQ DI, R14

chunk1:
	VMOVUPS (R8), Y1
	VADDPS  (R14)(AX*1), Y1, Y1
	VMOVUPS Y1, (R8)
	ADDQ    $32, R14
	ADDQ    $32, R8
	DECQ    CX
	JNZ     chunk1
	ADDQ    $4, R9
	DECQ    R13
	JNZ     row1
	ADDQ    $256, BX
	DECQ    R12
	JNZ     tree1

done:
	VZEROUPPER
	RET
