// Validates rendered Kubernetes manifests offline: every object against the schema of its kind (kubernetes-models,
// @kubernetes-models/keda, @kubernetes-models/prometheus-operator; Dapr's CRDs have no published models, so their
// required shape is checked here), then the platform's policies. Reads multi-document YAML from the files given or
// from stdin and prints one JSON report: { objects, kinds, errors: [..], queues: [..], daprAppIds: [..] }. Exit 1 on
// any error.
//   helm template x charts/platform | node k8s/tools/validate.mjs
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const input = process.argv.length > 2 ? process.argv.slice(2).map(f => readFileSync(f, 'utf8')).join('\n---\n') : readFileSync(0, 'utf8');
const errors = [];
const docs = [];
for (const d of parseAllDocuments(input, { uniqueKeys: true })) {
  if (d.errors.length) { errors.push(`YAML: ${d.errors.map(e => e.message).join('; ')}`); continue; }
  const o = d.toJS();
  if (o != null) docs.push(o);
}
const id = o => `${o?.kind}/${o?.metadata?.name}`;

// ---- Schema of each kind -------------------------------------------------------------------------------------
function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'keda.sh') return `@kubernetes-models/keda/keda.sh/${version}/${kind}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  return group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
}
function checkDapr(o) {
  const e = [];
  if (o.apiVersion !== 'dapr.io/v1alpha1') e.push(`apiVersion ${o.apiVersion} is not dapr.io/v1alpha1`);
  if (typeof o.spec !== 'object' || o.spec === null) e.push('spec is required');
  if (o.kind === 'Component') {
    if (!/^(state|pubsub|secretstores|bindings|configuration|lock|crypto|middleware)\.[a-z0-9.-]+$/.test(o.spec?.type ?? '')) e.push(`spec.type '${o.spec?.type}' is not a component type`);
    if (!/^v\d+$/.test(o.spec?.version ?? '')) e.push('spec.version must be v1, v2, ...');
    for (const m of o.spec?.metadata ?? []) {
      if (typeof m.name !== 'string') e.push('spec.metadata[].name is required');
      if (('value' in m) === ('secretKeyRef' in m)) e.push(`spec.metadata ${m.name}: exactly one of value and secretKeyRef`);
      if ('value' in m && typeof m.value !== 'string') e.push(`spec.metadata ${m.name}: value must be a string`);
      if (m.secretKeyRef && (!m.secretKeyRef.name || !m.secretKeyRef.key)) e.push(`spec.metadata ${m.name}: secretKeyRef needs name and key`);
    }
    if (o.scopes && !Array.isArray(o.scopes)) e.push('scopes must be a list of app-ids');
  } else if (o.kind === 'Configuration') {
    const t = o.spec?.tracing;
    if (t && (typeof t.samplingRate !== 'string' || !t.otel?.endpointAddress)) e.push('tracing needs samplingRate (string) and otel.endpointAddress');
  } else if (o.kind === 'Resiliency') {
    if (!o.spec?.policies || !o.spec?.targets) e.push('spec.policies and spec.targets are required');
    const p = o.spec?.policies ?? {};
    for (const [comp, t] of Object.entries(o.spec?.targets?.components ?? {}))
      for (const dir of ['inbound', 'outbound']) for (const [k, kind] of [['timeout', 'timeouts'], ['retry', 'retries'], ['circuitBreaker', 'circuitBreakers']]) {
        const ref = t?.[dir]?.[k];
        if (ref && !(p[kind] && ref in p[kind]) && !(k === 'timeout' && /^\d+(ms|s|m|h)$/.test(ref))) e.push(`targets.components.${comp}.${dir}.${k} names no policy '${ref}'`);
      }
  } else e.push(`unknown Dapr kind ${o.kind}`);
  return e;
}
for (const o of docs) {
  if (!o.apiVersion || !o.kind || !o.metadata?.name) { errors.push(`${id(o)}: apiVersion, kind and metadata.name are required`); continue; }
  if (o.apiVersion.startsWith('dapr.io/')) { for (const e of checkDapr(o)) errors.push(`${id(o)}: ${e}`); continue; }
  let Model;
  try { Model = (await import(modulePath(o.apiVersion, o.kind)))[o.kind]; } catch { }
  if (!Model) { errors.push(`${id(o)}: no schema for ${o.apiVersion} ${o.kind}`); continue; }
  try { new Model(o).validate(); } catch (e) { errors.push(`${id(o)}: schema: ${e.message}`); }
}

// ---- Policies --------------------------------------------------------------------------------------------------
const byKind = k => docs.filter(o => o.kind === k);
const workloads = [...byKind('Deployment'), ...byKind('StatefulSet')];
const seen = new Set();
for (const o of docs) { const k = `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`; if (seen.has(k)) errors.push(`${id(o)}: defined twice`); seen.add(k); }

const matches = (sel, labels) => sel && Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v)
  && (sel.matchExpressions ?? []).every(x => x.operator === 'In' ? x.values.includes(labels?.[x.key]) : x.operator === 'NotIn' ? !x.values.includes(labels?.[x.key]) : x.operator === 'Exists' ? x.key in (labels ?? {}) : !(x.key in (labels ?? {})));
const scaledBy = w => byKind('ScaledObject').find(s => s.spec?.scaleTargetRef?.name === w.metadata.name && (s.spec.scaleTargetRef.kind ?? 'Deployment') === w.kind);
const hpaOf = w => byKind('HorizontalPodAutoscaler').find(h => h.spec?.scaleTargetRef?.name === w.metadata.name && h.spec.scaleTargetRef.kind === w.kind);
// The fewest pods a workload runs with: its own replicas, or its autoscaler's minimum.
const minReplicas = w => { const s = scaledBy(w), h = hpaOf(w); return s ? (s.spec.minReplicaCount ?? 0) : h ? (h.spec.minReplicas ?? 1) : (w.spec?.replicas ?? 1); };

const appIds = new Map();
for (const w of workloads) {
  const pod = w.spec?.template?.spec ?? {};
  const podSc = pod.securityContext ?? {};
  if (w.kind === 'Deployment' && (scaledBy(w) || hpaOf(w)) && w.spec?.replicas !== undefined)
    errors.push(`${id(w)}: scaled by ${scaledBy(w) ? 'KEDA' : 'an HPA'} but sets spec.replicas`);
  if (pod.terminationGracePeriodSeconds === undefined) errors.push(`${id(w)}: no terminationGracePeriodSeconds`);
  for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    const where = `${id(w)} container ${c.name}`;
    const isInit = (pod.initContainers ?? []).includes(c);
    if (!isInit) for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe']) if (!c[p]) errors.push(`${where}: no ${p}`);
    for (const r of ['requests', 'limits']) for (const k of ['cpu', 'memory']) if (!c.resources?.[r]?.[k]) errors.push(`${where}: no resources.${r}.${k}`);
    const sc = c.securityContext ?? {};
    if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) errors.push(`${where}: not runAsNonRoot`);
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) errors.push(`${where}: runs as uid 0`);
    if (sc.allowPrivilegeEscalation !== false) errors.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.privileged) errors.push(`${where}: privileged`);
    if (sc.readOnlyRootFilesystem !== true) errors.push(`${where}: root filesystem is not read-only`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) errors.push(`${where}: capabilities not dropped (drop: [ALL])`);
    const image = c.image ?? '';
    const tag = image.includes('@') ? null : image.slice(image.lastIndexOf('/') + 1).split(':')[1];
    if (!image.includes('@') && (!tag || tag === 'latest')) errors.push(`${where}: image '${image}' has no pinned tag`);
    const sleep = c.lifecycle?.preStop?.sleep?.seconds;
    if (sleep !== undefined && sleep >= (pod.terminationGracePeriodSeconds ?? 30)) errors.push(`${where}: preStop sleep ${sleep}s is not shorter than the grace period`);
  }
  const ann = w.spec?.template?.metadata?.annotations ?? {};
  if (ann['dapr.io/enabled'] === 'true') {
    for (const k of ['dapr.io/app-id', 'dapr.io/app-port', 'dapr.io/config', 'dapr.io/log-as-json'])
      if (!ann[k]) errors.push(`${id(w)}: Dapr enabled without ${k}`);
    const appId = ann['dapr.io/app-id'];
    if (appIds.has(appId)) errors.push(`${id(w)}: Dapr app-id '${appId}' also used by ${appIds.get(appId)}`);
    appIds.set(appId, id(w));
    const cfg = ann['dapr.io/config'];
    if (cfg && !byKind('Configuration').some(c => c.metadata.name === cfg)) errors.push(`${id(w)}: Dapr config '${cfg}' is not among the objects`);
  }
}
for (const pdb of byKind('PodDisruptionBudget')) {
  const targets = workloads.filter(w => matches(pdb.spec?.selector, w.spec?.template?.metadata?.labels));
  if (targets.length === 0) errors.push(`${id(pdb)}: selects no workload`);
  for (const w of targets) if (minReplicas(w) <= 1) errors.push(`${id(pdb)}: ${id(w)} runs ${minReplicas(w)} replica(s); a PDB there blocks every drain`);
}
for (const w of byKind('Deployment')) if (minReplicas(w) > 1 && !byKind('PodDisruptionBudget').some(p => matches(p.spec?.selector, w.spec?.template?.metadata?.labels)))
  errors.push(`${id(w)}: ${minReplicas(w)} replicas and no PodDisruptionBudget`);
for (const s of byKind('ScaledObject')) {
  if (!workloads.some(w => w.metadata.name === s.spec?.scaleTargetRef?.name)) errors.push(`${id(s)}: scales '${s.spec?.scaleTargetRef?.name}', which is not among the objects`);
  for (const t of s.spec?.triggers ?? []) {
    if (t.type !== 'rabbitmq') continue;
    if (t.metadata?.mode !== 'QueueLength') errors.push(`${id(s)}: rabbitmq trigger mode is not QueueLength`);
    if (!t.metadata?.queueName) errors.push(`${id(s)}: rabbitmq trigger without queueName`);
    const auth = t.authenticationRef?.name;
    if (!auth || !byKind('TriggerAuthentication').some(a => a.metadata.name === auth)) errors.push(`${id(s)}: rabbitmq trigger without a TriggerAuthentication among the objects`);
    if (t.metadata?.host || t.metadata?.password) errors.push(`${id(s)}: credentials in trigger metadata`);
  }
}
// Only the gateway takes traffic from outside: a default-deny policy covers every pod, and a rule open to any source
// (or to other namespaces) selects only the gateway. Rules naming the monitoring, KEDA or Dapr namespaces are allowed.
const policies = byKind('NetworkPolicy');
if (policies.length) {
  const covered = w => policies.some(p => matches(p.spec?.podSelector, w.spec?.template?.metadata?.labels) && (p.spec?.policyTypes ?? []).includes('Ingress'));
  for (const w of workloads) if (!covered(w)) errors.push(`${id(w)}: no NetworkPolicy restricts its ingress`);
  const internal = new Set(['monitoring', 'keda', 'dapr-system']);
  for (const p of policies) for (const rule of p.spec?.ingress ?? []) {
    const open = !rule.from || rule.from.length === 0 || rule.from.some(f => f.namespaceSelector && !internal.has(f.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name']) || f.ipBlock);
    if (!open) continue;
    for (const w of workloads.filter(w => matches(p.spec?.podSelector, w.spec?.template?.metadata?.labels)))
      if (w.spec.template.metadata.labels['app.kubernetes.io/name'] !== 'gateway' && w.spec.template.metadata.labels['app.kubernetes.io/name'] !== 'all-in-one')
        errors.push(`${id(p)}: lets traffic from outside reach ${id(w)}`);
  }
}

const queues = byKind('ScaledObject').map(s => ({
  scaledObject: s.metadata.name,
  queueClass: s.metadata.annotations?.['platform/queue-naming'] ?? null,
  models: (s.metadata.annotations?.['platform/models'] ?? '').split(',').filter(Boolean),
  queueNames: (s.spec?.triggers ?? []).filter(t => t.type === 'rabbitmq').map(t => t.metadata?.queueName),
}));
const kinds = {};
for (const o of docs) kinds[o.kind] = (kinds[o.kind] ?? 0) + 1;
process.stdout.write(JSON.stringify({ objects: docs.length, kinds, errors, queues, daprAppIds: [...appIds.keys()] }, null, 1) + '\n');
process.exit(errors.length ? 1 : 0);
