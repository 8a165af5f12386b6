package tokencache

import "time"

// entry is one cached value and its node in the shard's intrusive LRU list.
type entry[V any] struct {
	key        [32]byte
	value      V
	expires    time.Time
	prev, next *entry[V]
}

// list is a circular doubly linked list with a sentinel node; unlike container/list it stores
// the value in the node, so moving an entry allocates nothing.
type list[V any] struct {
	root entry[V]
}

func (l *list[V]) init() {
	l.root.prev, l.root.next = &l.root, &l.root
}

func (l *list[V]) front() *entry[V] { return l.next(&l.root) }

// back returns the least recently used entry, or nil when the list is empty.
func (l *list[V]) back() *entry[V] {
	if l.root.prev == &l.root {
		return nil
	}
	return l.root.prev
}

// next returns the entry after e, or nil at the end.
func (l *list[V]) next(e *entry[V]) *entry[V] {
	if e.next == &l.root {
		return nil
	}
	return e.next
}

func (l *list[V]) pushFront(e *entry[V]) {
	e.prev, e.next = &l.root, l.root.next
	l.root.next.prev = e
	l.root.next = e
}

func (l *list[V]) remove(e *entry[V]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (l *list[V]) moveToFront(e *entry[V]) {
	if l.root.next == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}
