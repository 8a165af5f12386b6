package filepoll

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRunReloadsOnlyOnChangeAndReportsErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	checks, reloads := 0, 0
	var errs []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, time.Millisecond, func() (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			checks++
			switch checks {
			case 2:
				return true, nil
			case 3:
				return false, errors.New("stat failed")
			case 4:
				return true, nil // reload fails below
			}
			return false, nil
		}, func() error {
			mu.Lock()
			defer mu.Unlock()
			reloads++
			if reloads == 2 {
				return errors.New("bad file")
			}
			return nil
		}, func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}()
	for {
		mu.Lock()
		n := checks
		mu.Unlock()
		if n >= 6 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if reloads != 2 || len(errs) != 2 || errs[0].Error() != "stat failed" || errs[1].Error() != "bad file" {
		t.Errorf("reloads %d, errors %v", reloads, errs)
	}
}
