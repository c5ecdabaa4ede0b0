//go:build !amd64

package ml

func fastKernels() bool { return false }

func walkGroups(nodes *fnode, groups, depth int, x *uint32, offs *int32, rowBytes, s, row0 int) {
	panic("ml: no fast kernels on this architecture")
}

func sumLeaves(vals *float32, offs *int32, n4, n1, chunks int, acc *float32) {
	panic("ml: no fast kernels on this architecture")
}
