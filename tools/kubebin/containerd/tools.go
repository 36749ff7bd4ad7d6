//go:build tools

// Package containerdbin pins the container runtime of the kind node image (see tools/kind).
package containerdbin

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
