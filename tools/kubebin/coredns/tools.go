//go:build tools

// Package corednsbin pins CoreDNS, the cluster DNS image of the kind node image (see tools/kind).
package corednsbin

import _ "github.com/coredns/coredns"
