module github.com/torchgate/torchgate/worker

go 1.26.8

require (
	github.com/nlpodyssey/gopickle v0.2.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
