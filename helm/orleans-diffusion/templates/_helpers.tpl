{{/* Chart name, overridable. */}}
{{- define "odiff.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: the release name, plus the chart name unless the release name contains it. */}}
{{- define "odiff.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "odiff.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels. Call with (dict "ctx" $ "component" "worker"). */}}
{{- define "odiff.selectorLabels" -}}
app.kubernetes.io/name: {{ include "odiff.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Standard labels. Call with (dict "ctx" $ "component" "worker"). */}}
{{- define "odiff.labels" -}}
helm.sh/chart: {{ include "odiff.chart" .ctx }}
{{ include "odiff.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: orleans-diffusion
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{/* repository:tag of an image value; an empty tag means the chart's appVersion. Call with (dict "ctx" $ "image" .Values.images.cpu). */}}
{{- define "odiff.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* Secret names: the one given in values, else the one the chart creates. */}}
{{- define "odiff.redisSecret" -}}
{{- if .Values.redis.enabled }}
{{- .Values.redis.auth.existingSecret | default (printf "%s-redis-auth" (include "odiff.fullname" .)) }}
{{- else }}
{{- .Values.externalRedis.existingSecret }}
{{- end }}
{{- end }}

{{- define "odiff.tlsSecret" -}}
{{- .Values.tls.secretName | default (printf "%s-tls" (include "odiff.fullname" .)) }}
{{- end }}

{{- define "odiff.metricsTokenSecret" -}}
{{- .Values.metrics.token.existingSecret | default (printf "%s-metrics-token" (include "odiff.fullname" .)) }}
{{- end }}

{{- define "odiff.apiKeysSecret" -}}
{{- .Values.coordinator.api.keysSecret | default (printf "%s-api-keys" (include "odiff.fullname" .)) }}
{{- end }}

{{/* A generated secret value (base64), kept across upgrades. Call with (dict "ctx" $ "name" "..." "key" "password"). */}}
{{- define "odiff.generatedSecretValue" -}}
{{- $secret := lookup "v1" "Secret" .ctx.Release.Namespace .name }}
{{- $data := default dict $secret.data }}
{{- if hasKey $data .key }}
{{- index $data .key }}
{{- else }}
{{- randAlphaNum 40 | b64enc }}
{{- end }}
{{- end }}

{{/* Environment shared by every silo container: pod identity, listen address, Redis credentials, TLS, metrics token. */}}
{{- define "odiff.siloEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: OrleansDiffusion__SiloName
  value: $(POD_NAME)
- name: OrleansDiffusion__ListenAddress
  value: $(POD_IP)
- name: OrleansDiffusion__AdvertisedAddress
  value: $(POD_IP)
{{- with include "odiff.redisSecret" . }}
{{- if not $.Values.redis.enabled }}
- name: OrleansDiffusion__RedisUser
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: user
      optional: true
{{- end }}
- name: OrleansDiffusion__RedisPassword
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: password
{{- end }}
{{- if .Values.tls.enabled }}
- name: OrleansDiffusion__Tls__CertificateFile
  value: /etc/orleans-diffusion/tls/tls.crt
- name: OrleansDiffusion__Tls__KeyFile
  value: /etc/orleans-diffusion/tls/tls.key
- name: OrleansDiffusion__Tls__CaFile
  value: /etc/orleans-diffusion/tls/ca.crt
{{- end }}
{{- if .Values.metrics.token.enabled }}
- name: OrleansDiffusion__MetricsTokenFile
  value: /etc/orleans-diffusion/metrics/token
{{- end }}
{{- end }}

{{/* Volume mounts every silo container has. */}}
{{- define "odiff.siloVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: models
  mountPath: {{ .Values.models.mountPath }}
  readOnly: true
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: /etc/orleans-diffusion/tls
  readOnly: true
{{- end }}
{{- if .Values.metrics.token.enabled }}
- name: metrics-token
  mountPath: /etc/orleans-diffusion/metrics
  readOnly: true
{{- end }}
{{- end }}

{{/* Volumes every silo pod has. */}}
{{- define "odiff.siloVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 2Gi
- name: models
  persistentVolumeClaim:
    claimName: {{ .Values.models.existingClaim | default (printf "%s-models" (include "odiff.fullname" .)) }}
    readOnly: true
{{- if .Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ include "odiff.tlsSecret" . }}
    defaultMode: 0440
{{- end }}
{{- if .Values.metrics.token.enabled }}
- name: metrics-token
  secret:
    secretName: {{ include "odiff.metricsTokenSecret" . }}
    defaultMode: 0440
    items:
      - key: token
        path: token
{{- end }}
{{- end }}

{{/* Pod and container security contexts of a silo (non-root, read-only root, no capabilities, RuntimeDefault seccomp). */}}
{{- define "odiff.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "odiff.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Pod annotations of a silo: scrape annotations (only without a metrics token) and a checksum that rolls the pods when the settings change. */}}
{{- define "odiff.siloPodAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: "8080"
prometheus.io/path: /metrics
{{- end }}
{{- end }}
