//go:build !linux

package inventory

import "errors"

// describeChip needs the Linux GPIO character device ABI.
func (t tree) describeChip(c *GPIOChip) error {
	return errors.New("GPIO chip information needs Linux")
}
