module github.com/torchgate/torchgate/worker/cuda

go 1.26.8

require (
	github.com/torchgate/torchgate/worker v0.0.0
	gorgonia.org/cu v0.9.6
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/nlpodyssey/gopickle v0.2.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/torchgate/torchgate/worker => ../
