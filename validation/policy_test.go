package validation

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// allowedIngress says which pods (by app.kubernetes.io/name) may open connections to a
// component, and from which namespaces (Prometheus in "monitoring"; Istio's gateway).
var allowedIngress = map[string]struct{ pods, namespaces []string }{
	"worker":   {pods: []string{"envoy"}, namespaces: []string{"monitoring"}},
	"extauthz": {pods: []string{"envoy"}, namespaces: []string{"monitoring"}},
	"redis":    {pods: []string{"extauthz"}},
}

// istioIngress replaces allowedIngress in the istio overlay: the worker's sidecar calls
// extauthz, and the ingress gateway reaches the worker.
var istioIngress = map[string]struct{ pods, namespaces []string }{
	"worker":   {namespaces: []string{"istio-system", "monitoring"}},
	"extauthz": {pods: []string{"worker"}, namespaces: []string{"istio-system", "monitoring"}},
	"redis":    {pods: []string{"extauthz"}},
}

func TestK8sNetworkPolicies(t *testing.T) {
	for _, name := range k8sOverlays {
		t.Run(name, func(t *testing.T) {
			allowed := allowedIngress
			if name == "istio" {
				allowed = istioIngress
			}
			for _, o := range buildOverlay(t, name) {
				np, ok := o.value.(*networkingv1.NetworkPolicy)
				if !ok {
					continue
				}
				if err := checkIngress(np, allowed); err != "" {
					t.Errorf("NetworkPolicy %s: %s", np.Name, err)
				}
			}
		})
	}
}

// checkIngress reports the first ingress peer of np that allowed does not permit.
func checkIngress(np *networkingv1.NetworkPolicy, allowed map[string]struct{ pods, namespaces []string }) string {
	target := np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"]
	rule, guarded := allowed[target]
	if !guarded {
		return ""
	}
	for _, in := range np.Spec.Ingress {
		if len(in.From) == 0 {
			return "admits any source to " + target
		}
		for _, peer := range in.From {
			switch {
			case peer.IPBlock != nil:
				return "admits an IP block to " + target
			case peer.NamespaceSelector != nil:
				ns := peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
				if !slices.Contains(rule.namespaces, ns) || peer.PodSelector != nil {
					return "admits namespace " + ns + " to " + target
				}
			case peer.PodSelector != nil:
				pod := peer.PodSelector.MatchLabels["app.kubernetes.io/name"]
				if !slices.Contains(rule.pods, pod) {
					return "admits pods " + pod + " to " + target
				}
			}
		}
	}
	return ""
}

func TestCheckIngressCatches(t *testing.T) {
	from := func(peers ...networkingv1.NetworkPolicyPeer) *networkingv1.NetworkPolicy {
		np := &networkingv1.NetworkPolicy{}
		np.Spec.PodSelector.MatchLabels = map[string]string{"app.kubernetes.io/name": "worker"}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: peers}}
		return np
	}
	pods := func(name string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": name}}}
	}
	tests := []struct {
		name string
		np   *networkingv1.NetworkPolicy
		ok   bool
	}{
		{name: "envoy to the worker", np: from(pods("envoy")), ok: true},
		{name: "extauthz to the worker", np: from(pods("extauthz"))},
		{name: "any source to the worker", np: from()},
		{name: "an IP block to the worker", np: from(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkIngress(tc.np, allowedIngress); (got == "") != tc.ok {
				t.Fatalf("checkIngress = %q, want ok=%v", got, tc.ok)
			}
		})
	}
}

// overlayChecks are what particular overlays must change in the base.
var overlayChecks = map[string]func(t *testing.T, objs []object){
	"gpu":        checkGPUWorker,
	"production": func(t *testing.T, objs []object) { checkGPUWorker(t, objs); checkConfigFromSecret(t, objs) },
}

func TestK8sOverlayChanges(t *testing.T) {
	for name, check := range overlayChecks {
		t.Run(name, func(t *testing.T) { check(t, buildOverlay(t, name)) })
	}
}

func deployment(t *testing.T, objs []object, name string) *appsv1.Deployment {
	t.Helper()
	for _, o := range objs {
		if d, ok := o.value.(*appsv1.Deployment); ok && d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s", name)
	return nil
}

func checkGPUWorker(t *testing.T, objs []object) {
	t.Helper()
	d := deployment(t, objs, "worker")
	c := d.Spec.Template.Spec.Containers[0]
	if q := c.Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]; q.Value() < 1 {
		t.Error("GPU worker has no nvidia.com/gpu limit")
	}
	if c.Image != "torchgate/worker-gpu:dev" {
		t.Errorf("GPU worker image = %q", c.Image)
	}
	if !slices.Contains(c.Args, "cuda") || len(d.Spec.Template.Spec.Tolerations) == 0 || len(d.Spec.Template.Spec.NodeSelector) == 0 {
		t.Error("GPU worker lacks --device cuda, tolerations or a node selector")
	}
}

func checkConfigFromSecret(t *testing.T, objs []object) {
	t.Helper()
	for _, v := range deployment(t, objs, "extauthz").Spec.Template.Spec.Volumes {
		if v.Name == "config" && (v.Secret == nil || v.ConfigMap != nil) {
			t.Error("extauthz config is not read from the Secret torchgate-extauthz-config")
		}
	}
}
