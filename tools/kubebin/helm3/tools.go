//go:build tools

// Package helmbin pins the Helm 3 CLI the chart tests run (users still install with Helm 3).
package helmbin

import _ "helm.sh/helm/v3/cmd/helm"
