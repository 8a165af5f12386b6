package repository

import "errors"

// Sentinel errors; returned errors wrap them (test with errors.Is).
var (
	// ErrLayout reports a repository folder that does not follow the layout.
	ErrLayout = errors.New("repository: bad layout")
	// ErrConfig reports a config.yaml that cannot be parsed or holds invalid values.
	ErrConfig = errors.New("repository: bad config")
)
