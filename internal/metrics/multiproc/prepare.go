package multiproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Prepare makes dir ready for a new child: it creates it if missing and
// removes every .db file (and leftover compaction temp files), as
// prometheus_client requires between runs. Other files are left alone, in
// case dir was pointed at a directory holding more than metrics.
func Prepare(dir string) error {
	if dir == "" {
		return errors.New("multiproc: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("multiproc: creating %s: %w", dir, err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("multiproc: reading %s: %w", dir, err)
	}
	var errs []error
	for _, de := range des {
		n := de.Name()
		if de.IsDir() || !(strings.HasSuffix(n, ".db") || strings.HasSuffix(n, tmpSuffix)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("multiproc: wiping %s: %w", dir, err)
	}
	return nil
}
