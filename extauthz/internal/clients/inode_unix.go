//go:build unix

package clients

import "syscall"

// sameInode compares the os.FileInfo.Sys values of two stats by device and inode, so a rename
// over the file is noticed even when mtime and size match.
func sameInode(a, b any) bool {
	sa, ok1 := a.(*syscall.Stat_t)
	sb, ok2 := b.(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return ok1 == ok2
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
