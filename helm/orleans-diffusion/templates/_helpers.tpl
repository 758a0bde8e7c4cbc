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

{{/* OrleansDiffusion__Devices of a worker: worker.devices, else cuda:0..cuda:N-1 with GPUs, else cpu. */}}
{{- define "odiff.workerDevices" -}}
{{- if .Values.worker.devices }}
{{- .Values.worker.devices }}
{{- else if .Values.worker.gpu.enabled }}
{{- $devices := list }}
{{- range $i := until (int .Values.worker.gpu.count) }}
{{- $devices = append $devices (printf "cuda:%d" $i) }}
{{- end }}
{{- join "," $devices }}
{{- else -}}
cpu
{{- end }}
{{- end }}

{{/* Environment shared by every silo container: pod identity from the downward API, Redis from a Secret if asked. */}}
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
- name: OrleansDiffusion__AdvertisedAddress
  value: $(POD_IP)
{{- if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret }}
- name: OrleansDiffusion__Redis
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalRedis.existingSecret }}
      key: connectionString
{{- end }}
{{- end }}

{{/* Pod annotations of a silo: scrape annotations and a checksum that rolls the pods when the settings change. */}}
{{- define "odiff.siloPodAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: "8080"
prometheus.io/path: /metrics
{{- end }}
{{- end }}
