//go:build tools

// Package kuberouterbin pins kube-router, the pod network (CNI + routes between nodes) of the kind node image:
// kind's own kindnetd is a separate Go module the module proxy does not serve (see tools/kind).
package kuberouterbin

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
