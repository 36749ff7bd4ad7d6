//go:build tools

// Package crictlbin pins crictl, the CRI client inside the kind node image (see tools/kind).
package crictlbin

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
