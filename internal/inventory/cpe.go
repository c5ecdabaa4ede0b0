package inventory

import (
	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/cpe"
)

func checkCPE(s string) error {
	_, err := cpe.Parse(s)
	return err
}

func cpeKeys(s string, norm *vuln.Normaliser) (string, string, bool) {
	n, err := cpe.Parse(s)
	if err != nil {
		return "", "", false
	}
	vk := norm.Vendor(n.Get(cpe.Vendor))
	return vk, norm.Product(vk, n.Get(cpe.Product)), true
}
