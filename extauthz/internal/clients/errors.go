package clients

import "errors"

// Errors returned by the clients package; compare with errors.Is.
var (
	// ErrInsecureMode means the registry file is readable or writable by group or others.
	ErrInsecureMode = errors.New("clients: registry file is group or world accessible (chmod 600 it)")
	// ErrInvalid means the registry file or a client entry is invalid.
	ErrInvalid = errors.New("clients: invalid registry")
	// ErrNotFound means no client has the given id.
	ErrNotFound = errors.New("clients: no such client")
	// ErrExists means a client with the given id already exists.
	ErrExists = errors.New("clients: client already exists")
)
