//go:build unix

package serve

import "syscall"

// processCPUSeconds returns the user and system CPU time the process has used. On a machine
// shared with other work, CPU time per request measures the serving cost better than wall
// time.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
