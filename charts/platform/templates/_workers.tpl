{{/*
The worker Deployments as a list, one entry per Deployment: the text pools, ImageGen, Judge and MoeAdapter when
enabled. queueClass names the class in Platform.Contracts whose ForModel gives each model's queue (a test calls it
and compares with the KEDA triggers); queuePrefix is what that method puts before the model name.
*/}}
{{- define "platform.workers" -}}
{{- $v := .Values -}}
{{- if $v.textLlm.enabled }}
{{- range $pool, $p := $v.textLlm.pools }}
- component: {{ printf "text-llm-%s" $pool }}
  image: text-llm
  section: TextLlm
  queuePrefix: chat-
  queueClass: Platform.Contracts.Chat.ChatQueues
  models: {{ toJson $p.models }}
  replicas: {{ $p.replicas }}
  resources: {{ toJson $p.resources }}
  gpu: {{ toJson $p.gpu }}
  keda: {{ toJson $p.keda }}
  startupProbe: {{ toJson $v.textLlm.startupProbe }}
  pdb: {{ toJson $v.textLlm.pdb }}
  extraEnv: {{ toJson $v.textLlm.extraEnv }}
{{- end }}
{{- end }}
{{- if $v.imageGen.enabled }}
- component: image-gen
  image: image-gen
  section: ImageGen
  queuePrefix: image-
  queueClass: Platform.Contracts.Images.ImageQueues
  models: {{ toJson $v.imageGen.models }}
  replicas: {{ $v.imageGen.replicas }}
  resources: {{ toJson $v.imageGen.resources }}
  gpu: {{ toJson $v.imageGen.gpu }}
  keda: {{ toJson $v.imageGen.keda }}
  startupProbe: {{ toJson $v.imageGen.startupProbe }}
  pdb: {{ toJson $v.imageGen.pdb }}
  extraEnv: {{ toJson (merge (dict "ImageGen__DecoderDevice" (ternary "cuda:0" "cpu" $v.imageGen.gpu.enabled)) $v.imageGen.extraEnv) }}
{{- end }}
{{- if $v.judge.enabled }}
- component: judge
  image: judge
  section: Judge
  queuePrefix: {{ $v.judge.queuePrefix }}
  queueClass: Platform.Contracts.Judge.JudgeQueues
  models: {{ toJson $v.judge.models }}
  replicas: {{ $v.judge.replicas }}
  resources: {{ toJson $v.judge.resources }}
  gpu: {{ toJson $v.judge.gpu }}
  keda: {{ toJson $v.judge.keda }}
  startupProbe: {{ toJson $v.judge.startupProbe }}
  pdb: {{ toJson $v.judge.pdb }}
  extraEnv: {{ toJson $v.judge.extraEnv }}
{{- end }}
{{- if $v.moeAdapter.enabled }}
- component: moe-adapter
  image: moe-adapter
  section: MoeAdapter
  queuePrefix: {{ $v.moeAdapter.queuePrefix }}
  queueClass: Platform.Contracts.Chat.ChatQueues
  models: {{ toJson $v.moeAdapter.models }}
  replicas: {{ $v.moeAdapter.replicas }}
  resources: {{ toJson $v.moeAdapter.resources }}
  gpu: {{ toJson $v.moeAdapter.gpu }}
  keda: {{ toJson $v.moeAdapter.keda }}
  startupProbe: {{ toJson $v.moeAdapter.startupProbe }}
  pdb: {{ toJson $v.moeAdapter.pdb }}
  extraEnv: {{ toJson $v.moeAdapter.extraEnv }}
{{- end }}
{{- end -}}

{{/* Queue of one model for a worker: (dict "w" WORKER "model" NAME), the same rule as ChatQueues.ForModel. */}}
{{- define "platform.queueName" -}}
{{- printf "%s%s" .w.queuePrefix (regexReplaceAll "[^a-z0-9._-]" (lower .model) "-") -}}
{{- end -}}
