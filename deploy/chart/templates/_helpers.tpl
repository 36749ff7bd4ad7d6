{{/*
Shared pieces of the chart. Object names are fixed (swh-controller, swh-agent): the CRDs, ClusterRoles and
FlowSchemas are cluster-wide, so one release per cluster, like `kubectl apply -k deploy/`, which renders the
same objects (tests/deploy/chart_test.ts compares them).
*/}}

{{/* The operator namespace: namespace.name, else the release namespace. */}}
{{- define "swh.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/* The image reference: a digest wins over a tag; the tag defaults to the chart's appVersion. */}}
{{- define "swh.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository ($image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
Labels of every object: the part-of label kustomize adds too, Helm's usual four (the only labels that differ
from deploy/) and commonLabels. `extra`, the object's own labels, wins over commonLabels, which win over the rest.
*/}}
{{- define "swh.labels" -}}
{{- $labels := dict "app.kubernetes.io/part-of" "service-with-healthchecks" -}}
{{- $_ := set $labels "app.kubernetes.io/managed-by" .ctx.Release.Service -}}
{{- $_ := set $labels "app.kubernetes.io/instance" .ctx.Release.Name -}}
{{- $_ := set $labels "app.kubernetes.io/version" .ctx.Chart.AppVersion -}}
{{- $_ := set $labels "helm.sh/chart" (printf "%s-%s" .ctx.Chart.Name (.ctx.Chart.Version | replace "+" "_")) -}}
{{- toYaml (merge (dict) (.extra | default dict) .ctx.Values.commonLabels $labels) -}}
{{- end -}}

{{/* metadata.labels and, when any, metadata.annotations of an object (commonAnnotations + its own). */}}
{{- define "swh.metadata" -}}
labels:
  {{- include "swh.labels" . | nindent 2 }}
{{- $annotations := merge (dict) (.annotations | default dict) .ctx.Values.commonAnnotations }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pod template labels: the selector label, part-of, then podLabels (never Helm's: they change per release). */}}
{{- define "swh.podLabels" -}}
{{- toYaml (merge (dict) .workload.podLabels (dict "app.kubernetes.io/name" .name "app.kubernetes.io/part-of" "service-with-healthchecks")) -}}
{{- end -}}

{{/*
Environment of both programs: the operator namespace (the pod's own), the ops port, a writable DENO_DIR (the
root filesystem is read-only) and the log level when set.
*/}}
{{- define "swh.commonEnv" -}}
- name: SWH_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: SWH_OPS_PORT
  value: "8080"
- name: DENO_DIR
  value: /tmp/deno
{{- with .logLevel }}
- name: SWH_LOG_LEVEL
  value: {{ . | quote }}
{{- end }}
{{- end -}}
