// The batches view: a JSONL file (or one built from a list of prompts) -> /v1/files -> /v1/batches, then progress
// from request_counts, cancel, and the output and error files.
import { ApiError, cancelBatch, createBatch, downloadWithKey, fileContentUrl, getBatch, listBatches, uploadBatchFile } from './api.js';
import { $, el } from './dom.js';

const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
const POLL_MS = 1000;
let timer = null;
let active = false;

export function initBatches() {
  $('#batch-create').addEventListener('click', create);
  $('#batch-refresh').addEventListener('click', refresh);
}

/** Called when the view is shown or hidden: it polls only while visible. */
export function setBatchesActive(visible) {
  active = visible;
  if (visible) refresh();
  else clearTimeout(timer);
}

/** JSONL lines in OpenAI's batch input format, one chat completion per prompt. */
export function promptsToJsonl(prompts, model, maxTokens) {
  return prompts.map((prompt, i) => JSON.stringify({
    custom_id: `prompt-${i + 1}`, method: 'POST', url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: prompt }], ...(maxTokens ? { max_tokens: maxTokens } : {}) },
  })).join('\n') + '\n';
}

async function create() {
  const status = $('#batch-create-status');
  const button = $('#batch-create');
  const fileInput = $('#batch-file');
  const prompts = $('#batch-prompts').value.split('\n').map(s => s.trim()).filter(Boolean);
  let blob;
  let filename;
  if (fileInput.files.length) {
    blob = fileInput.files[0];
    filename = blob.name;
  } else if (prompts.length) {
    const maxTokens = Number($('#batch-max-tokens').value) || null;
    blob = new Blob([promptsToJsonl(prompts, $('#batch-model').value, maxTokens)], { type: 'application/jsonl' });
    filename = 'prompts.jsonl';
  } else {
    status.textContent = 'Write some prompts or choose a JSONL file first.';
    return;
  }
  button.disabled = true;
  status.textContent = 'Uploading…';
  try {
    const file = await uploadBatchFile(blob, filename);
    const batch = await createBatch(file.id);
    status.textContent = `Created ${batch.id}.`;
    $('#batch-prompts').value = '';
    fileInput.value = '';
    await refresh();
  } catch (e) {
    status.textContent = e instanceof ApiError ? `Failed: ${e.describe()}` : `Failed: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

async function refresh() {
  clearTimeout(timer);
  const list = $('#batch-list');
  try {
    const page = await listBatches(20);
    list.replaceChildren(...page.data.map(renderBatch));
    if (!page.data.length) list.append(el('li', { class: 'note' }, 'No batches yet.'));
    if (active && page.data.some(b => !FINAL.has(b.status))) timer = setTimeout(refresh, POLL_MS);
  } catch (e) {
    list.replaceChildren(el('li', { class: 'error', role: 'alert' }, e instanceof ApiError ? e.describe() : e.message));
  }
}

function renderBatch(b) {
  const counts = b.request_counts ?? { total: 0, completed: 0, failed: 0 };
  const done = counts.completed + counts.failed;
  const percent = counts.total ? Math.round(100 * done / counts.total) : (b.status === 'completed' ? 100 : 0);
  const item = el('li', { class: 'batch', dataset: { id: b.id, status: b.status } },
    el('div', { class: 'row' },
      el('strong', {}, b.id),
      el('span', { class: `badge status-${b.status}` }, b.status),
      el('span', { class: 'when' }, new Date(b.created_at * 1000).toLocaleString())),
    el('div', { class: 'progress-row' },
      el('progress', { max: 100, value: percent, 'aria-label': `Progress of ${b.id}` }),
      el('span', { class: 'percent' }, `${percent}%`),
      el('span', { class: 'counts' }, `${counts.completed} done, ${counts.failed} failed of ${counts.total}`)));
  const actions = el('div', { class: 'actions' });
  if (['validating', 'in_progress', 'finalizing'].includes(b.status)) {
    actions.append(el('button', {
      type: 'button', onclick: async e => {
        e.target.disabled = true;
        try { await cancelBatch(b.id); } catch (err) { alertIn(item, err); }
        refresh();
      },
    }, 'Cancel'));
  }
  if (b.output_file_id) actions.append(el('a', { class: 'button', href: fileContentUrl(b.output_file_id), download: `${b.id}-output.jsonl`, onclick: downloadWithKey }, 'Download output'));
  if (b.error_file_id) actions.append(el('a', { class: 'button', href: fileContentUrl(b.error_file_id), download: `${b.id}-errors.jsonl`, onclick: downloadWithKey }, 'Download errors'));
  if (actions.childElementCount) item.append(actions);
  for (const err of b.errors?.data ?? []) item.append(el('p', { class: 'error' }, `${err.line ? `line ${err.line}: ` : ''}${err.message}`));
  return item;
}

function alertIn(item, e) {
  item.append(el('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? e.describe() : e.message));
}
