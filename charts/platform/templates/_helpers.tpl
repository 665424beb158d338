{{/* Names and labels. */}}
{{- define "platform.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{/* Labels of every object; platform.commonLabels leaves out the instance for objects that add their selector. */}}
{{- define "platform.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "platform.labels" -}}
{{ include "platform.commonLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one workload: (dict "root" $ "component" "gateway") */}}
{{- define "platform.selector" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "platform.image" -}}
{{- $tag := .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s/platform-%s:%s" .root.Values.image.registry .image $tag -}}
{{- end -}}

{{- define "platform.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ include "platform.fullname" . }}{{- else -}}default{{- end -}}
{{- end -}}

{{/* Broker and database endpoints and secrets (bundled or external). */}}
{{- define "platform.rabbitmq.host" -}}
{{- if .Values.rabbitmq.bundled -}}{{ include "platform.fullname" . }}-rabbitmq{{- else -}}{{ required "rabbitmq.host is required when rabbitmq.bundled is false" .Values.rabbitmq.host }}{{- end -}}
{{- end -}}
{{- define "platform.rabbitmq.secret" -}}
{{- .Values.rabbitmq.existingSecret | default (printf "%s-rabbitmq" (include "platform.fullname" .)) -}}
{{- end -}}
{{- define "platform.postgresql.host" -}}
{{- if .Values.postgresql.bundled -}}{{ include "platform.fullname" . }}-postgresql{{- else -}}{{ required "postgresql.host is required when postgresql.bundled is false" .Values.postgresql.host }}{{- end -}}
{{- end -}}
{{- define "platform.postgresql.secret" -}}
{{- .Values.postgresql.existingSecret | default (printf "%s-postgresql" (include "platform.fullname" .)) -}}
{{- end -}}

{{/* The Dapr app-id of a workload (unique in the namespace). */}}
{{- define "platform.daprAppId" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Seconds the application may spend draining: grace period minus the preStop sleep minus a 5 s margin. */}}
{{- define "platform.drainSeconds" -}}
{{- $c := .Values.common -}}
{{- max 1 (sub (sub (int $c.terminationGracePeriodSeconds) (int $c.preStopSeconds)) 5) -}}
{{- end -}}

{{/* Environment every platform service gets (ConfigMap data). */}}
{{- define "platform.commonSettings" -}}
{{- $root := . -}}
Bus__Transport: RabbitMq
Bus__RabbitMq__Host: {{ include "platform.rabbitmq.host" . | quote }}
Bus__RabbitMq__Port: {{ .Values.rabbitmq.port | quote }}
Bus__RabbitMq__VirtualHost: {{ .Values.rabbitmq.vhost | quote }}
{{- $drain := int (include "platform.drainSeconds" .) }}
HostOptions__ShutdownTimeout: {{ printf "%02d:%02d:%02d" (div $drain 3600) (div (mod $drain 3600) 60) (mod $drain 60) | quote }}
Bus__DrainSeconds: {{ max 1 (sub $drain 5) | quote }}
Logging__LogLevel__Default: {{ .Values.common.logLevel | quote }}
{{- with .Values.common.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- if .Values.dapr.enabled }}
Dapr__Enabled: "true"
Dapr__SecretStore: {{ .Values.dapr.secretStore | quote }}
Dapr__StateStore: {{ .Values.dapr.stateStore | quote }}
Dapr__PubSub: {{ .Values.dapr.pubsub | quote }}
Dapr__TopicPrefix: {{ .Values.dapr.eventsTopicPrefix | quote }}
Dapr__BrokerSecret: {{ include "platform.rabbitmq.secret" . | quote }}
Dapr__DatabaseSecret: {{ include "platform.postgresql.secret" . | quote }}
{{- end }}
{{- range $name, $m := .Values.models.registry }}
Models__{{ $name }}__Path: {{ $m.path | quote }}
{{- if $m.multimodal }}
Models__{{ $name }}__Multimodal: "true"
{{- end }}
{{- with $m.kind }}
Models__{{ $name }}__Kind: {{ . | quote }}
{{- end }}
{{- range $k, $v := ($m.engine | default dict) }}
Models__{{ $name }}__Engine__{{ title $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Broker credentials as environment (from the Secret). */}}
{{- define "platform.brokerEnv" -}}
- name: Bus__RabbitMq__Username
  valueFrom: { secretKeyRef: { name: {{ include "platform.rabbitmq.secret" . }}, key: username } }
- name: Bus__RabbitMq__Password
  valueFrom: { secretKeyRef: { name: {{ include "platform.rabbitmq.secret" . }}, key: password } }
{{- end -}}

{{/* Pod-level pieces shared by every platform Deployment: (dict "root" $ "component" NAME "gpu" GPU "drain" BOOL) */}}
{{- define "platform.podAnnotations" -}}
{{- $root := .root -}}
checksum/config: {{ .checksum }}
{{- if $root.Values.dapr.enabled }}
dapr.io/enabled: "true"
dapr.io/app-id: {{ include "platform.daprAppId" . | quote }}
dapr.io/app-port: "8080"
dapr.io/config: {{ printf "%s-dapr" (include "platform.fullname" $root) | quote }}
dapr.io/log-as-json: {{ $root.Values.dapr.logAsJson | quote }}
dapr.io/enable-metrics: "true"
dapr.io/graceful-shutdown-seconds: {{ include "platform.drainSeconds" $root | quote }}
{{- end }}
{{- end -}}

{{- define "platform.podSpecCommon" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "platform.serviceAccountName" $root }}
automountServiceAccountToken: false
terminationGracePeriodSeconds: {{ $root.Values.common.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml $root.Values.common.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $root.Values.common.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ $root.Values.common.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ $root.Values.common.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "platform.selector" . | nindent 8 }}
  - maxSkew: {{ $root.Values.common.topologySpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "platform.selector" . | nindent 8 }}
{{- end }}
{{- with .gpu }}
{{- if .enabled }}
{{- with .runtimeClassName }}
runtimeClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
tolerations:
  - { key: {{ .resourceName | quote }}, operator: Exists, effect: NoSchedule }
  {{- with .tolerations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The application container: (dict "root" $ "component" NAME "image" IMAGE "resources" R "gpu" GPU "startupProbe" P "env" LIST-YAML) */}}
{{- define "platform.container" -}}
{{- $root := .root -}}
- name: {{ .component }}
  image: {{ include "platform.image" . }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  ports:
    - { name: http, containerPort: 8080, protocol: TCP }
  envFrom:
    - configMapRef: { name: {{ printf "%s-%s" (include "platform.fullname" $root) .component }} }
  env:
    {{- include "platform.brokerEnv" $root | nindent 4 }}
    {{- with .env }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- range $k, $v := (.extraEnv | default dict) }}
    - { name: {{ $k }}, value: {{ $v | toString | quote }} }
    {{- end }}
  startupProbe:
    httpGet: { path: /alive, port: http }
    periodSeconds: {{ .startupProbe.periodSeconds }}
    failureThreshold: {{ .startupProbe.failureThreshold }}
    timeoutSeconds: 2
  readinessProbe:
    httpGet: { path: /health, port: http }
    periodSeconds: 5
    failureThreshold: 2
    timeoutSeconds: 3
  livenessProbe:
    httpGet: { path: /alive, port: http }
    periodSeconds: 10
    failureThreshold: 3
    timeoutSeconds: 3
  lifecycle:
    preStop:
      sleep: { seconds: {{ $root.Values.common.preStopSeconds }} }
  resources:
    {{- $res := deepCopy .resources }}
    {{- if and .gpu .gpu.enabled }}
    {{- $_ := set $res "limits" (merge (dict .gpu.resourceName (toString .gpu.count)) ($res.limits | default dict)) }}
    {{- $_ := set $res "requests" (merge (dict .gpu.resourceName (toString .gpu.count)) ($res.requests | default dict)) }}
    {{- end }}
    {{- toYaml $res | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.common.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - { name: tmp, mountPath: /tmp }
    {{- if $root.Values.models.volume.enabled }}
    - { name: models, mountPath: {{ $root.Values.models.volume.mountPath }}, readOnly: {{ $root.Values.models.volume.readOnly }} }
    {{- end }}
{{- end -}}

{{- define "platform.volumes" -}}
- name: tmp
  emptyDir: { sizeLimit: 256Mi }
{{- if .Values.models.volume.enabled }}
- name: models
  persistentVolumeClaim:
    claimName: {{ required "models.volume.claimName is required when models.volume.enabled" .Values.models.volume.claimName }}
    readOnly: {{ .Values.models.volume.readOnly }}
{{- end }}
{{- end -}}
