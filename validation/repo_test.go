package validation

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot is the repository root: the tests run in validation/.
const repoRoot = ".."

// repoPath joins elements onto the repository root.
func repoPath(elem ...string) string {
	return filepath.Join(append([]string{repoRoot}, elem...)...)
}

// readRepoFile reads a file of the repository or fails the test.
func readRepoFile(t *testing.T, elem ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(repoPath(elem...))
	if err != nil {
		t.Fatalf("reading %s: %v", filepath.Join(elem...), err)
	}
	return data
}
