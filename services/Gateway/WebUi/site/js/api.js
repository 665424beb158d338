// The platform's public HTTP API (same origin): /v1/models, /v1/chat/completions, /v1/files, /v1/batches, /v1/judge.

import { showGlobalError } from './dom.js';

const KEY_ITEM = 'platform.apiKey';

/**
 * The API key for a gateway that requires one (sent as Authorization: Bearer). Kept in sessionStorage: it lasts as
 * long as this browser tab and is not written to disk with the conversations.
 */
export const apiKey = {
  get: () => sessionStorage.getItem(KEY_ITEM) || null,
  set: key => (key ? sessionStorage.setItem(KEY_ITEM, key) : sessionStorage.removeItem(KEY_ITEM)),
};

/** An API failure carrying the server's own message (OpenAI error shape) and, for 429, the Retry-After seconds. */
export class ApiError extends Error {
  constructor(status, message, code = null, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** One line for people: the API's message, its code and status, and when to retry. */
  describe() {
    const where = [this.status ? `HTTP ${this.status}` : null, this.code].filter(Boolean).join(', ');
    const retry = this.retryAfter != null ? ` Retry after ${this.retryAfter} s.` : '';
    return `${this.message}${where ? ` (${where})` : ''}${retry}`;
  }
}

async function errorFrom(response) {
  const text = await response.text();
  let message = text || response.statusText || 'Request failed';
  let code = null;
  try {
    const body = JSON.parse(text);
    if (body?.error) {
      message = body.error.message ?? message;
      code = body.error.code ?? body.error.type ?? null;
    }
  } catch { /* not JSON: keep the text */ }
  const retry = response.headers.get('Retry-After');
  return new ApiError(response.status, message, code, retry == null ? null : Number(retry));
}

export async function request(path, { method = 'GET', json, body, signal, headers = {} } = {}) {
  const init = { method, signal, headers: { ...headers } };
  const key = apiKey.get();
  if (key && !init.headers.Authorization) init.headers.Authorization = `Bearer ${key}`;
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `The server could not be reached: ${e.message}`);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/**
 * A URL an <img> or a download link can use. An <img> cannot send the API key, so with a key the platform's own /v1
 * URLs (generated images, batch files) are fetched with it and served from a blob: URL; anything else (data:, blob:,
 * no key) is returned as it is.
 */
export async function authorizedUrl(url) {
  if (!apiKey.get()) return url;
  const target = new URL(url, location.href);
  if (target.origin !== location.origin || !target.pathname.startsWith('/v1/')) return url;
  const response = await request(target.pathname + target.search);
  return URL.createObjectURL(await response.blob());
}

/** Click handler for download links to the platform's own files: with an API key the file is fetched with it. */
export async function downloadWithKey(event) {
  const link = event.currentTarget;
  if (!apiKey.get() || link.dataset.fetched === 'true') return;
  event.preventDefault();
  try {
    const blob = document.createElement('a');
    blob.href = await authorizedUrl(link.href);
    blob.download = link.getAttribute('download') ?? '';
    blob.dataset.fetched = 'true';
    document.body.append(blob);
    blob.click();
    blob.remove();
  } catch (e) {
    showGlobalError(`Could not download ${link.getAttribute('download') ?? 'the file'}: ${e instanceof ApiError ? e.describe() : e.message}`);
  }
}

export async function getJson(path, options) {
  return (await request(path, options)).json();
}

export const postJson = (path, json, options = {}) => getJson(path, { ...options, method: 'POST', json });

/** GET /v1/models: [{id, capabilities?}]. */
export async function listModels() {
  return (await getJson('/v1/models')).data ?? [];
}

export const hasCapability = (model, capability) =>
  Array.isArray(model.capabilities) && model.capabilities.includes(capability);

/**
 * POST /v1/chat/completions with stream=true. Calls onDelta(parts) for each event's delta, in order: parts are
 * [{type:"text",text}|{type:"image_url",image_url:{url},source}] (delta.parts when the model is multimodal, else
 * delta.content as one text part). Resolves with {finishReason, usage}; an error event mid-stream throws ApiError.
 */
export async function streamChat(body, { signal, onDelta }) {
  const response = await request('/v1/chat/completions', {
    method: 'POST', json: { ...body, stream: true, stream_options: { include_usage: true } }, signal,
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let finishReason = null;
  let usage = null;
  let done = false;
  while (!done) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.split('\n').filter(l => l.startsWith('data:')).map(l => l.slice(5).trimStart()).join('\n');
      if (!data) continue;
      if (data === '[DONE]') { done = true; break; }
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(response.status, chunk.error.message, chunk.error.code ?? chunk.error.type);
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices ?? []) {
        const delta = choice.delta ?? {};
        const parts = Array.isArray(delta.parts) ? delta.parts
          : delta.content ? [{ type: 'text', text: delta.content }] : [];
        if (parts.length) onDelta(parts);
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    }
  }
  if (!done) throw new ApiError(0, 'The stream ended before the answer was complete.');
  return { finishReason, usage };
}

/** Non-streaming chat completion; returns the whole response object. */
export const completeChat = (body, options) => postJson('/v1/chat/completions', { ...body, stream: false }, options);

/** Text of an assistant message (parts' text, or content). */
export function messageText(message) {
  if (Array.isArray(message?.parts)) return message.parts.filter(p => p.type === 'text').map(p => p.text).join('');
  return typeof message?.content === 'string' ? message.content : '';
}

// Files and batches (OpenAI shapes).
export async function uploadBatchFile(blob, filename) {
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', blob, filename);
  return (await request('/v1/files', { method: 'POST', body: form })).json();
}

export const createBatch = inputFileId =>
  postJson('/v1/batches', { input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
export const getBatch = id => getJson(`/v1/batches/${encodeURIComponent(id)}`);
export const listBatches = (limit = 20) => getJson(`/v1/batches?limit=${limit}`);
export const cancelBatch = id => postJson(`/v1/batches/${encodeURIComponent(id)}/cancel`, {});
export const fileContentUrl = id => `/v1/files/${encodeURIComponent(id)}/content`;

// Judge.
export const rate = (model, messages, response) => postJson('/v1/judge/ratings', { model, messages, response });
export const compare = (model, messages, responses, mode) =>
  postJson('/v1/judge/comparisons', { model, messages, responses, mode });
