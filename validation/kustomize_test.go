package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// k8sOverlays lists the overlays that must build; TestK8sOverlaysListed keeps it complete.
var k8sOverlays = []string{"trial", "production", "gpu", "istio", "monitoring"}

// object is one built Kubernetes object, decoded strictly into its Go type.
type object struct {
	kind, name string
	value      any
}

// k8sKinds maps apiVersion/kind to a constructor of its Go type. Kinds without Go types in this
// module (Prometheus Operator and Istio CRDs) get minimal structs of our own below, so a typo in
// a field still fails.
var k8sKinds = map[string]func() any{
	"v1/Namespace":                             func() any { return new(corev1.Namespace) },
	"v1/ServiceAccount":                        func() any { return new(corev1.ServiceAccount) },
	"v1/Service":                               func() any { return new(corev1.Service) },
	"v1/ConfigMap":                             func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                                func() any { return new(corev1.Secret) },
	"apps/v1/Deployment":                       func() any { return new(appsv1.Deployment) },
	"autoscaling/v2/HorizontalPodAutoscaler":   func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"policy/v1/PodDisruptionBudget":            func() any { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1/NetworkPolicy":       func() any { return new(networkingv1.NetworkPolicy) },
	"monitoring.coreos.com/v1/ServiceMonitor":  func() any { return new(serviceMonitor) },
	"monitoring.coreos.com/v1/PrometheusRule":  func() any { return new(prometheusRule) },
	"security.istio.io/v1/AuthorizationPolicy": func() any { return new(authorizationPolicy) },
	"security.istio.io/v1/PeerAuthentication":  func() any { return new(peerAuthentication) },
}

// buildOverlay runs kustomize on k8s/overlays/<name> and decodes every object strictly.
func buildOverlay(t *testing.T, name string) []object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	dir, err := filepath.Abs(repoPath("k8s", "overlays", name))
	if err != nil {
		t.Fatal(err)
	}
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build k8s/overlays/%s: %v", name, err)
	}
	var objs []object
	for _, r := range rm.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		o, err := decodeObject(js)
		if err != nil {
			t.Errorf("k8s/overlays/%s: %s %s: %v", name, r.GetKind(), r.GetName(), err)
			continue
		}
		objs = append(objs, o)
	}
	return objs
}

// decodeObject picks the Go type by apiVersion and kind and decodes js into it, refusing
// unknown fields.
func decodeObject(js []byte) (object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return object{}, err
	}
	mk, ok := k8sKinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		return object{}, fmt.Errorf("no Go type for %s %s: add it to k8sKinds", head.APIVersion, head.Kind)
	}
	v := mk()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return object{}, fmt.Errorf("strict decoding: %w", err)
	}
	return object{kind: head.Kind, name: head.Metadata.Name, value: v}, nil
}

func TestK8sOverlaysListed(t *testing.T) {
	entries, err := os.ReadDir(repoPath("k8s", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(k8sOverlays, e.Name()) {
			t.Errorf("overlay %s is not in k8sOverlays, so nothing builds it", e.Name())
		}
	}
}

func TestK8sOverlays(t *testing.T) {
	for _, name := range k8sOverlays {
		t.Run(name, func(t *testing.T) {
			objs := buildOverlay(t, name)
			byKind := map[string][]string{}
			for _, o := range objs {
				byKind[o.kind] = append(byKind[o.kind], o.name)
				switch v := o.value.(type) {
				case *appsv1.Deployment:
					checkPodHardening(t, v)
				case *corev1.Secret:
					t.Errorf("Secret %s is inlined; reference an externally created Secret", o.name)
				}
			}
			for _, want := range []string{"Namespace", "Deployment", "Service", "ConfigMap",
				"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} {
				if len(byKind[want]) == 0 {
					t.Errorf("no %s in the build", want)
				}
			}
			t.Logf("built: %v", byKind)
			if !slices.Contains(byKind["NetworkPolicy"], "default-deny") {
				t.Error("no default-deny NetworkPolicy")
			}
		})
	}
}

// checkPodHardening enforces the pod and container security settings every Deployment needs.
func checkPodHardening(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	spec := d.Spec.Template.Spec
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("Deployment %s: pod securityContext.runAsNonRoot is not true", d.Name)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("Deployment %s: pod seccompProfile is not RuntimeDefault", d.Name)
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("Deployment %s container %s: no securityContext", d.Name, c.Name)
			continue
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("Deployment %s container %s: allowPrivilegeEscalation is not false", d.Name, c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("Deployment %s container %s: readOnlyRootFilesystem is not true", d.Name, c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
			t.Errorf("Deployment %s container %s: capabilities do not drop ALL", d.Name, c.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("Deployment %s container %s: needs a CPU request and a memory limit", d.Name, c.Name)
		}
	}
	for _, c := range spec.Containers {
		if c.ReadinessProbe == nil || c.LivenessProbe == nil {
			t.Errorf("Deployment %s container %s: needs readiness and liveness probes", d.Name, c.Name)
		}
	}
}

func TestK8sStrictDecodingCatches(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{name: "misspelled Deployment field", doc: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replica":2}}`},
		{name: "misspelled ServiceMonitor field", doc: `{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"x"},"spec":{"endpoint":[]}}`},
		{name: "kind without a Go type", doc: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"x"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeObject([]byte(tc.doc)); err == nil {
				t.Fatal("decoded a broken object")
			}
		})
	}
}
