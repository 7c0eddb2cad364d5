package discovery

import (
	"fmt"
	"log/slog"
	"strings"
)

// kubeRef names a Service port: k8s://NAMESPACE/SERVICE:PORT.
type kubeRef struct {
	namespace, service, port string // port: a number or a port name
}

func parseKubeSpec(spec string) (kubeRef, error) {
	rest := strings.TrimPrefix(spec, "k8s://")
	ns, svcPort, ok := strings.Cut(rest, "/")
	svc, port, ok2 := strings.Cut(svcPort, ":")
	if !ok || !ok2 || !isDNSLabel(ns) || !isDNSLabel(svc) || port == "" {
		return kubeRef{}, fmt.Errorf("%q: want k8s://NAMESPACE/SERVICE:PORT (PORT a number or a port name)", spec)
	}
	if port[0] >= '0' && port[0] <= '9' {
		if _, err := parsePort(port); err != nil {
			return kubeRef{}, fmt.Errorf("%q: %w", spec, err)
		}
	} else if !isDNSLabel(port) || len(port) > 15 {
		return kubeRef{}, fmt.Errorf("%q: port name %q is not a valid IANA service name", spec, port)
	}
	return kubeRef{namespace: ns, service: svc, port: port}, nil
}

// isDNSLabel: lowercase letters, digits and '-', 1-63 long, alphanumeric
// at both ends (RFC 1123), as namespaces and Service names are.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// KubeConfig locates the API server and the credentials. The zero value
// means in-cluster: KUBERNETES_SERVICE_HOST and _PORT, and the service
// account files under /var/run/secrets/kubernetes.io/serviceaccount.
type KubeConfig struct {
	// Server is the API server's base URL (https://HOST:PORT).
	Server string
	// TokenFile, CAFile: the bearer token (re-read as kubelet rotates it)
	// and the CA bundle of the API server.
	TokenFile, CAFile string
}

func newKube(ref kubeRef, cfg KubeConfig, m *metrics, log *slog.Logger) (Source, error) {
	return nil, fmt.Errorf("k8s:// is not implemented yet")
}
