//go:build !amd64

package ml

func fastKernels() bool { return false }

func blockKernel() bool { return false }

func walkGroups(nodes *fnode, groups, depth int, x *uint32, offs *int32, rowBytes, s, row0 int) {
	panic("ml: no fast kernels on this architecture")
}

func sumLeaves(vals *float32, offs *int32, step, n4, n1, chunks int, acc *float32) {
	panic("ml: no fast kernels on this architecture")
}

func walkBlock(tbl *uint32, nt, depth int, keys *uint32, rowoff *int32, offs *int32, rowBytes, s int) {
	panic("ml: no fast kernels on this architecture")
}

func sumBlock(vals *float32, offs *int32, nrows, n4, n1, chunks int, acc *float32) {
	panic("ml: no fast kernels on this architecture")
}
