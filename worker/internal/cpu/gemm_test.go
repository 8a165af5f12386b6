package cpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestSgemmMatchesReference(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {3, 17, 5}, {6, 16, 4}, {7, 33, 65}, {65, 1, 17}, {1, 512, 300},
		{145, 70, 257}, {200, 300, 513}, {17, 3, 0}}
	type variant struct {
		ta, tb      bool
		alpha, beta float32
	}
	variants := []variant{{false, false, 1, 0}, {true, false, 1, 1}, {false, true, 0.5, -2}, {true, true, 2, 0.25}}
	for _, kernel := range []string{"auto", "generic"} {
		for _, threads := range []int{1, 3} {
			e := newEngine(t, threads)
			for _, sz := range sizes {
				for _, v := range variants {
					m, n, k := sz[0], sz[1], sz[2]
					name := fmt.Sprintf("%s kernel %d threads %dx%dx%d ta=%v tb=%v alpha=%v beta=%v", kernel, threads, m, n, k, v.ta, v.tb, v.alpha, v.beta)
					t.Run(name, func(t *testing.T) {
						r := rand.New(rand.NewPCG(uint64(m*n+k), 7))
						lda, ldb, ldc := k+2, n+1, n+3
						if v.ta {
							lda = m + 2
						}
						if v.tb {
							ldb = k + 1
						}
						a := randSlice(r, max(m, k)*lda)
						b := randSlice(r, max(n, k)*ldb)
						c := randSlice(r, m*ldc)
						want := append([]float32(nil), c...)
						refGemm(v.ta, v.tb, m, n, k, v.alpha, a, lda, b, ldb, v.beta, want, ldc)
						run := func() {
							if err := e.Sgemm(v.ta, v.tb, m, n, k, v.alpha, a, lda, b, ldb, v.beta, c, ldc, nil); err != nil {
								t.Fatal(err)
							}
						}
						if kernel == "generic" {
							withGeneric(t, run)
						} else {
							run()
						}
						assertClose(t, c, want, gemmTol(k))
					})
				}
			}
		}
	}
}

func TestSgemmBetaZeroIgnoresNaN(t *testing.T) {
	e := newEngine(t, 2)
	nan := float32(0)
	nan /= nan
	c := []float32{nan, nan, nan, nan}
	if err := e.Sgemm(false, false, 2, 2, 1, 1, []float32{1, 2}, 1, []float32{3, 4}, 2, 0, c, 2, nil); err != nil {
		t.Fatal(err)
	}
	assertClose(t, c, []float32{3, 4, 6, 8}, 0)
}

func TestSgemmEpilogue(t *testing.T) {
	const m, n, k = 13, 37, 29
	r := rand.New(rand.NewPCG(1, 2))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	res := randSlice(r, m*n)
	for _, tc := range []struct {
		name string
		epi  Epilogue
	}{
		{name: "column bias and relu", epi: Epilogue{Bias: randSlice(r, n), Act: ActReLU}},
		{name: "row bias, residual and relu", epi: Epilogue{Bias: randSlice(r, m), BiasAxis: BiasPerRow, Residual: res, Act: ActReLU}},
		{name: "gelu", epi: Epilogue{Act: ActGELU}},
		{name: "bias and gelu tanh", epi: Epilogue{Bias: randSlice(r, n), Act: ActGELUTanh}},
		{name: "residual only", epi: Epilogue{Residual: res}},
		{name: "strided residual", epi: Epilogue{Residual: randSlice(r, m*(n+5)), ResidualStride: n + 5, Act: ActTanh}},
		{name: "sigmoid", epi: Epilogue{Bias: randSlice(r, m), BiasAxis: BiasPerRow, Act: ActSigmoid}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, 2)
			want := make([]float32, m*n)
			refGemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
			refEpilogue(want, m, n, &tc.epi)
			got := make([]float32, m*n)
			if err := e.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, got, n, &tc.epi); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got, want, 1e-5)
		})
	}
}

// gemmTol is the relative tolerance for float32 sums of k products compared with float64
// ones: 1e-5, growing with √k past k = 64 as rounding errors accumulate.
func gemmTol(k int) float64 { return 1e-5 * max(1, math.Sqrt(float64(k)/64)) }

// refEpilogue applies an epilogue the slow way: bias, residual, activation.
func refEpilogue(c []float32, m, n int, ep *Epilogue) {
	for i := range m {
		for j := range n {
			v := c[i*n+j]
			if ep.Bias != nil {
				if ep.BiasAxis == BiasPerRow {
					v += ep.Bias[i]
				} else {
					v += ep.Bias[j]
				}
			}
			if ep.Residual != nil {
				v += ep.Residual[i*ep.ldr(n)+j]
			}
			x := []float32{v}
			ep.Act.apply(x)
			c[i*n+j] = x[0]
		}
	}
}

func TestSgemmRejectsBadShapes(t *testing.T) {
	e := newEngine(t, 1)
	buf := make([]float32, 6)
	for _, tc := range []struct {
		name    string
		m, n, k int
		lda     int
		epi     *Epilogue
		want    error
	}{
		{name: "negative size", m: -1, n: 2, k: 2, lda: 2, want: ErrShape},
		{name: "a too short", m: 3, n: 2, k: 3, lda: 3, want: ErrShape},
		{name: "stride below width", m: 2, n: 2, k: 3, lda: 2, want: ErrShape},
		{name: "bias length", m: 2, n: 2, k: 2, lda: 2, epi: &Epilogue{Bias: make([]float32, 3)}, want: ErrShape},
		{name: "unknown activation", m: 2, n: 2, k: 2, lda: 2, epi: &Epilogue{Act: 99}, want: ErrArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Sgemm(false, false, tc.m, tc.n, tc.k, 1, buf, tc.lda, buf, max(tc.n, 1), 0, buf, max(tc.n, 1), tc.epi)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSgemmAllocatesNothingWhenWarm(t *testing.T) {
	e := newEngine(t, 2)
	r := rand.New(rand.NewPCG(3, 4))
	a, b, c := randSlice(r, 64*300), randSlice(r, 300*200), make([]float32, 64*200)
	run := func() {
		if err := e.Sgemm(false, false, 64, 200, 300, 1, a, 300, b, 200, 0, c, 200, nil); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if n := testing.AllocsPerRun(10, run); n != 0 {
		t.Fatalf("%v allocations per warm call", n)
	}
}

func TestEngineSerialisesConcurrentCalls(t *testing.T) {
	e := newEngine(t, 2)
	const m, n, k = 40, 50, 60
	r := rand.New(rand.NewPCG(9, 9))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	refGemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	errs := make(chan error, 4)
	outs := make([][]float32, 4)
	for g := range outs {
		outs[g] = make([]float32, m*n)
		go func() {
			for range 20 {
				if err := e.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, outs[g], n, nil); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range outs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range outs {
		assertClose(t, c, want, gemmTol(k))
	}
}

func TestClosedEngineReturnsError(t *testing.T) {
	e := New(Options{Threads: 2})
	e.Close()
	e.Close()
	c := make([]float32, 1)
	if err := e.Sgemm(false, false, 1, 1, 1, 1, c, 1, c, 1, 0, c, 1, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}
