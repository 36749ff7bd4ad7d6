//go:build tools

// Package kindbin pins the kind CLI that `deno task kind-e2e` drives (KIND_EXPERIMENTAL_PROVIDER=podman).
package kindbin

import _ "sigs.k8s.io/kind"
