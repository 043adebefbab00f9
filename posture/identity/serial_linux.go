package identity

import "context"

// Linux sources, in order. Both are root-only (mode 0400) on stock kernels;
// a VM or container may have neither.
const (
	linuxProductSerial = "/sys/class/dmi/id/product_serial"
	linuxDMITable      = "/sys/firmware/dmi/tables/DMI"
)

func platformSerial(ctx context.Context) (string, error) {
	return linuxSerial(ctx, linuxProductSerial, linuxDMITable)
}
