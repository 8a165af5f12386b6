// Package repository reads a model repository laid out as Triton's:
//
//	DIR/<model>/config.yaml        optional
//	DIR/<model>/<version>/model.pt one folder per version, named by a positive integer
//	                               without leading zeros
//
// Scan lists the models, their versions (the highest is the default) and their configs.
// Folders of a model that are not positive integers are ignored, as Triton does; a model
// without any version is an error, so a typo fails at startup rather than at the first
// request.
//
// # config.yaml
//
// Every key is optional; the zero value of each means its default. Unknown keys are an error.
//
//	max_batch_size: 8          largest batch (sum of the requests' first dimensions) run at
//	                           once; default 8; 1 turns batching off
//	max_queue_delay: 2ms       how long the oldest request may wait for a fuller batch;
//	                           default 0 (batches form only from what queued while busy)
//	preferred_batch_sizes: [4, 8]  batch sizes to run as soon as they can be formed
//	instances: 1               model copies running batches concurrently; default 1
//	max_queue_size: 256        queued requests per model version before 503; default 256
//	request_timeout: 30s       deadline of a request from its arrival; default 30s
//	inputs:                    names, dtypes and dims of forward's arguments, in order;
//	  - name: x                default: what the archive tells (worker inspect)
//	    datatype: FP32         FP32 or INT64
//	    dims: [-1, 16]         -1 for the batch axis and any free size
//	outputs:                   same for the outputs; names default to OUTPUT__0, OUTPUT__1...
//	  - name: y
//	    datatype: FP32
//	    dims: [-1, 8]
package repository
