package cuda

import (
	"errors"
	"testing"
)

func TestUseCUDA(t *testing.T) {
	tests := []struct {
		name      string
		device    string
		available bool
		want      bool
		err       error
	}{
		{name: "auto with a GPU uses it", device: "auto", available: true, want: true},
		{name: "auto without a GPU falls back", device: "auto", available: false, want: false},
		{name: "cuda with a GPU", device: "cuda", available: true, want: true},
		{name: "cuda without a GPU fails", device: "cuda", available: false, err: ErrNoCUDA},
		{name: "cpu ignores the GPU", device: "cpu", available: true, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UseCUDA(tc.device, tc.available)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("UseCUDA(%q, %v) = %v, %v; want %v, %v", tc.device, tc.available, got, err, tc.want, tc.err)
			}
		})
	}
	if _, err := UseCUDA("tpu", true); err == nil {
		t.Error("UseCUDA(tpu) succeeded")
	}
}
