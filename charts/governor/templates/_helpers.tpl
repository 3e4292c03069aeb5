{{/*
Names are fixed, not derived from the release name: the APIServices and ClusterRoles are
cluster-wide singletons, so there is one Governor per cluster, and the adapter's certificate
is for governor-metrics-adapter.<namespace>.svc.
*/}}

{{- define "governor.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: governor
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of objects that belong to neither binary (ServiceMonitor, PrometheusRule, ...). */}}
{{- define "governor.labels" -}}
{{ include "governor.commonLabels" . }}
app.kubernetes.io/name: governor
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "governor.operator.selectorLabels" -}}
app.kubernetes.io/name: governor-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "governor.adapter.selectorLabels" -}}
app.kubernetes.io/name: governor-metrics-adapter
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "governor.operator.labels" -}}
{{ include "governor.commonLabels" . }}
{{ include "governor.operator.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "governor.adapter.labels" -}}
{{ include "governor.commonLabels" . }}
{{ include "governor.adapter.selectorLabels" . }}
app.kubernetes.io/component: metrics-adapter
{{- end }}

{{/* image REPOSITORY:TAG, the tag defaulting to the chart's appVersion. Argument: (list $ .Values.x.image) */}}
{{- define "governor.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) -}}
{{- end }}

{{/* The one watched namespace, or "" for all of them. */}}
{{- define "governor.watchNamespace" -}}
{{- if .Values.watchNamespaces }}{{ first .Values.watchNamespaces }}{{ end -}}
{{- end }}

{{/* The Secret the adapter's serving certificate is in. */}}
{{- define "governor.adapter.tlsSecret" -}}
{{- if .Values.certManager.enabled }}governor-metrics-adapter-cert-manager-tls{{ else }}governor-metrics-adapter-tls{{ end -}}
{{- end }}

{{/* The adapter's in-cluster DNS name, which its certificate is for. */}}
{{- define "governor.adapter.serviceDNS" -}}
{{- printf "governor-metrics-adapter.%s.svc" .Release.Namespace -}}
{{- end }}

{{/* Pod placement shared by both Deployments. */}}
{{- define "governor.podPlacement" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Non-root, no privileges, read-only root: both containers. */}}
{{- define "governor.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "governor.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end }}
