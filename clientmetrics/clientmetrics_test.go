package clientmetrics

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBusiestClientsGetNamedSeries(t *testing.T) {
	c := New("torchgate_test_requests_total", "Test.", 2, "decision")
	for range 50 {
		c.Inc("heavy", "allow")
	}
	for range 20 {
		c.Inc("medium", "allow")
	}
	for i := range 30 {
		c.Inc(fmt.Sprintf("light-%d", i), "deny")
	}
	// First scrape: everything so far is in "other"; the two busiest are promoted.
	want := `
# HELP torchgate_test_requests_total Test.
# TYPE torchgate_test_requests_total counter
torchgate_test_requests_total{client_id="other",decision="allow"} 70
torchgate_test_requests_total{client_id="other",decision="deny"} 30
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	c.Inc("heavy", "allow")
	c.Inc("medium", "deny")
	c.Inc("light-1", "deny")
	want = `
# HELP torchgate_test_requests_total Test.
# TYPE torchgate_test_requests_total counter
torchgate_test_requests_total{client_id="heavy",decision="allow"} 1
torchgate_test_requests_total{client_id="medium",decision="deny"} 1
torchgate_test_requests_total{client_id="other",decision="allow"} 70
torchgate_test_requests_total{client_id="other",decision="deny"} 31
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestCardinalityStaysBounded(t *testing.T) {
	c := New("torchgate_test_total", "Test.", 5)
	for i := range 10000 {
		c.Inc(fmt.Sprintf("client-%d", i%997))
		if i%1000 == 0 {
			testutil.CollectAndCount(c)
		}
	}
	if n := testutil.CollectAndCount(c); n > 6 {
		t.Fatalf("%d series, want at most 5 named + other", n)
	}
	if len(c.candidates) > 5*candidateFactor {
		t.Fatalf("candidate table grew to %d", len(c.candidates))
	}
}

func TestInvalidLabelValueDoesNotPanic(t *testing.T) {
	c := New("torchgate_test_total", "Test.", 1)
	c.Inc("bad-\xff-utf8")
	testutil.CollectAndCount(c)
	c.Inc("bad-\xff-utf8")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
