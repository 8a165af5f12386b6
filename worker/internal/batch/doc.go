// Package batch runs one model version's requests through dynamic batching.
//
// A Batcher keeps a bounded queue ordered by effective priority and a fixed number of
// runners (one per model instance). A free runner takes the best queued request and every
// other queued request whose inputs have the same dtypes and the same sizes beyond the
// batch (first) axis, in queue order, up to MaxBatchSize items; it concatenates their
// inputs along the batch axis, runs the model once and hands each request its own rows of
// the outputs.
//
// # Scheduling
//
// Higher priority is served first and equal priority in arrival order. Waiting raises a
// request's effective priority by one level per AgingStep, so low priority work is never
// starved: a request's rank is fixed at arrival (priority·AgingStep − arrival time), which
// keeps the queue a sorted slice without re-sorting as time passes.
//
// Batches form from what queued while the runners were busy. With MaxQueueDelay > 0 a
// runner holds off until the batch reaches MaxBatchSize or one of PreferredBatchSizes, or
// the best request has waited MaxQueueDelay. A batch is then trimmed to the largest size
// among MaxBatchSize and PreferredBatchSizes (the powers of two when none are given) that
// a prefix of it reaches; the rest stays queued for the next run. The engine prepares a
// program per input shape and keeps only a few, so a handful of batch sizes keeps them
// cached: measured on ResNet-18, preparing a new batch size costs more than a run.
//
// Enqueueing never blocks: a full queue answers ErrQueueFull at once. Requests whose
// context is done (the client went away, the deadline passed) are dropped before they use
// compute. Close stops new requests, lets the runners finish the queue and waits for them.
//
// A Batcher is safe for concurrent use.
package batch
