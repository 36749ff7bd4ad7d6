//go:build tools

// Package helmbin pins the Helm 4 CLI the chart tests and `deno task release` run.
package helmbin

import _ "helm.sh/helm/v4/cmd/helm"
