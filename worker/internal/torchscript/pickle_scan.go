package torchscript

import (
	"encoding/binary"
	"fmt"
)

// maxMarkDepth bounds nested MARKs; each open mark holds a stack buffer in the pickle VM.
const maxMarkDepth = 4096

// argKind says how a pickle opcode's inline argument is encoded.
type argKind uint8

const (
	argNone  argKind = iota
	argFixed         // fixed-size argument, size in opInfo.n
	argCount         // little-endian length prefix of opInfo.n bytes, then that many bytes
	argLines         // opInfo.n newline-terminated lines
)

type opInfo struct {
	kind argKind
	n    int
	// mark is +1 for MARK and -1 for opcodes that pop back to the last mark.
	mark int
}

// pickleOps lists every opcode of pickle protocols 0–5 with its argument layout.
var pickleOps = map[byte]opInfo{
	'(': {mark: 1}, '.': {}, '0': {}, '1': {mark: -1}, '2': {},
	'F': {kind: argLines, n: 1}, 'I': {kind: argLines, n: 1}, 'J': {kind: argFixed, n: 4},
	'K': {kind: argFixed, n: 1}, 'L': {kind: argLines, n: 1}, 'M': {kind: argFixed, n: 2},
	'N': {}, 'P': {kind: argLines, n: 1}, 'Q': {}, 'R': {}, 'S': {kind: argLines, n: 1},
	'T': {kind: argCount, n: 4}, 'U': {kind: argCount, n: 1}, 'V': {kind: argLines, n: 1},
	'X': {kind: argCount, n: 4}, 'a': {}, 'b': {}, 'c': {kind: argLines, n: 2},
	'd': {mark: -1}, '}': {}, 'e': {mark: -1}, 'g': {kind: argLines, n: 1},
	'h': {kind: argFixed, n: 1}, 'i': {kind: argLines, n: 2, mark: -1},
	'j': {kind: argFixed, n: 4}, 'l': {mark: -1}, ']': {}, 'o': {mark: -1},
	'p': {kind: argLines, n: 1}, 'q': {kind: argFixed, n: 1}, 'r': {kind: argFixed, n: 4},
	's': {}, 't': {mark: -1}, ')': {}, 'u': {mark: -1}, 'G': {kind: argFixed, n: 8},
	'\x80': {kind: argFixed, n: 1}, '\x81': {}, '\x82': {kind: argFixed, n: 1},
	'\x83': {kind: argFixed, n: 2}, '\x84': {kind: argFixed, n: 4}, '\x85': {}, '\x86': {},
	'\x87': {}, '\x88': {}, '\x89': {}, '\x8a': {kind: argCount, n: 1},
	'\x8b': {kind: argCount, n: 4}, 'B': {kind: argCount, n: 4}, 'C': {kind: argCount, n: 1},
	'\x8c': {kind: argCount, n: 1}, '\x8d': {kind: argCount, n: 8},
	'\x8e': {kind: argCount, n: 8}, '\x8f': {}, '\x90': {mark: -1}, '\x91': {mark: -1},
	'\x92': {}, '\x93': {}, '\x94': {}, '\x95': {kind: argFixed, n: 8},
	'\x96': {kind: argCount, n: 8}, '\x97': {}, '\x98': {},
}

// scanPickle walks the opcodes of p up to STOP and rejects streams whose length fields
// point past the end of p, whose marks nest too deeply, or that use unknown opcodes. The
// pickle VM allocates a length field's worth of bytes before reading them, so this check
// is what keeps lying sizes from becoming huge allocations.
func scanPickle(p []byte) error {
	depth := 0
	for i := 0; i < len(p); {
		op := p[i]
		info, ok := pickleOps[op]
		if !ok {
			return fmt.Errorf("%w: unknown opcode 0x%02x at %d", ErrPickle, op, i)
		}
		i++
		if op == '.' {
			return nil
		}
		switch info.kind {
		case argFixed:
			if len(p)-i < info.n {
				return fmt.Errorf("%w: truncated at %d", ErrPickle, i)
			}
			if op == '\x95' && binary.LittleEndian.Uint64(p[i:]) > uint64(len(p)-i-8) {
				return fmt.Errorf("%w: frame longer than the pickle at %d", ErrPickle, i)
			}
			i += info.n
		case argCount:
			if len(p)-i < info.n {
				return fmt.Errorf("%w: truncated at %d", ErrPickle, i)
			}
			var n uint64
			for k := info.n - 1; k >= 0; k-- {
				n = n<<8 | uint64(p[i+k])
			}
			i += info.n
			if n > uint64(len(p)-i) {
				return fmt.Errorf("%w: length %d past the end at %d", ErrPickle, n, i)
			}
			i += int(n)
		case argLines:
			for range info.n {
				j := i
				for j < len(p) && p[j] != '\n' {
					j++
				}
				if j == len(p) {
					return fmt.Errorf("%w: unterminated line at %d", ErrPickle, i)
				}
				i = j + 1
			}
		}
		depth += info.mark
		if depth < 0 {
			return fmt.Errorf("%w: no mark to pop at %d", ErrPickle, i)
		}
		if depth > maxMarkDepth {
			return fmt.Errorf("%w: marks nested deeper than %d", ErrPickle, maxMarkDepth)
		}
	}
	return fmt.Errorf("%w: no STOP opcode", ErrPickle)
}
