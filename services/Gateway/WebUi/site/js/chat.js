// The chat view: interleaved messages (text and images in any order), streaming answers with generated images inline,
// stop / regenerate / edit-and-resend, conversations kept in the browser.
import { ApiError, apiKey, authorizedUrl, downloadWithKey, streamChat } from './api.js';
import { $, el, fillSelect, readAsDataUrl, showGlobalError } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { loadConversations, newId, saveConversations } from './store.js';

const SETTINGS_KEY = 'platform.chat-settings.v1';
const TOKEN = /\[image (\d+)\]/g;

const state = {
  conversations: loadConversations(),
  current: null,
  attachments: [],   // [{n, url, name}] of the draft
  nextImage: 1,
  running: null,     // {controller, message} while an answer streams
  models: [],
};

const ui = {};

export function initChat() {
  Object.assign(ui, {
    messages: $('#messages'), list: $('#conversation-list'), composer: $('#composer'), prompt: $('#prompt'),
    attachments: $('#attachments'), file: $('#file-input'), send: $('#send'), stop: $('#stop'),
    model: $('#chat-model'), temperature: $('#chat-temperature'), maxTokens: $('#chat-max-tokens'),
    seed: $('#chat-seed'), ignoreEos: $('#chat-ignore-eos'),
  });
  loadSettings();
  for (const input of [ui.model, ui.temperature, ui.maxTokens, ui.seed, ui.ignoreEos]) input.addEventListener('change', saveSettings);

  $('#new-chat').addEventListener('click', () => { if (!state.running) openConversation(null); });
  ui.composer.addEventListener('submit', e => { e.preventDefault(); send(); });
  ui.prompt.addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  document.addEventListener('keydown', e => { if (e.key === 'Escape' && state.running) { e.preventDefault(); stop(); } });
  ui.stop.addEventListener('click', stop);
  ui.file.addEventListener('change', async () => { await addFiles([...ui.file.files]); ui.file.value = ''; });
  ui.prompt.addEventListener('paste', e => {
    const files = [...(e.clipboardData?.files ?? [])].filter(f => f.type.startsWith('image/'));
    if (files.length) { e.preventDefault(); addFiles(files); }
  });
  ui.composer.addEventListener('dragover', e => { e.preventDefault(); ui.composer.classList.add('drop'); });
  ui.composer.addEventListener('dragleave', () => ui.composer.classList.remove('drop'));
  ui.composer.addEventListener('drop', e => {
    e.preventDefault();
    ui.composer.classList.remove('drop');
    addFiles([...(e.dataTransfer?.files ?? [])]);
  });

  openConversation(state.conversations[0]?.id ?? null);
}

export function setChatModels(models) {
  state.models = models;
  const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}');
  fillSelect(ui.model, models.map(m => m.id), saved.model ?? models[0]?.id);
}

function loadSettings() {
  const s = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}');
  ui.temperature.value = s.temperature ?? '';
  ui.maxTokens.value = s.max_tokens ?? '';
  ui.seed.value = s.seed ?? '';
  ui.ignoreEos.checked = !!s.ignore_eos;
}

function saveSettings() {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify({
    model: ui.model.value, temperature: ui.temperature.value, max_tokens: ui.maxTokens.value,
    seed: ui.seed.value, ignore_eos: ui.ignoreEos.checked,
  }));
}

function samplingFields() {
  const body = {};
  if (ui.temperature.value !== '') body.temperature = Number(ui.temperature.value);
  if (ui.maxTokens.value !== '') body.max_tokens = Number(ui.maxTokens.value);
  if (ui.seed.value !== '') body.seed = Number(ui.seed.value);
  if (ui.ignoreEos.checked) body.ignore_eos = true;
  return body;
}

// ---- conversations ------------------------------------------------------------------------------------------------

function openConversation(id) {
  state.current = state.conversations.find(c => c.id === id) ?? null;
  renderConversationList();
  renderMessages();
  ui.prompt.focus();
}

function ensureConversation() {
  if (!state.current) {
    state.current = { id: newId(), title: 'New chat', created: Date.now(), messages: [] };
    state.conversations.unshift(state.current);
  }
  return state.current;
}

function persist() {
  const c = state.current;
  if (c) {
    // The most recently used conversation first.
    state.conversations = [c, ...state.conversations.filter(x => x.id !== c.id)];
  }
  const warning = saveConversations(state.conversations);
  showGlobalError(warning);
  renderConversationList();
}

function renderConversationList() {
  ui.list.replaceChildren(...state.conversations.map(c => el('li', {},
    el('button', {
      type: 'button', class: 'conversation', 'aria-current': c === state.current ? 'true' : null,
      onclick: () => { if (!state.running) openConversation(c.id); },
    }, c.title),
    el('button', {
      type: 'button', class: 'icon', 'aria-label': `Delete conversation ${c.title}`, title: 'Delete',
      onclick: () => {
        if (state.running) return;
        state.conversations = state.conversations.filter(x => x.id !== c.id);
        saveConversations(state.conversations);
        openConversation(c === state.current ? state.conversations[0]?.id ?? null : state.current?.id);
      },
    }, '×'))));
}

// ---- the draft: text with [image N] markers where images sit, thumbnails below ------------------------------------

async function addFiles(files) {
  for (const file of files.filter(f => f.type.startsWith('image/'))) {
    const url = await readAsDataUrl(file);
    const n = state.nextImage++;
    state.attachments.push({ n, url, name: file.name || `image ${n}` });
    insertAtCaret(`[image ${n}] `);
  }
  renderAttachments();
}

function insertAtCaret(text) {
  const p = ui.prompt;
  const start = p.selectionStart ?? p.value.length;
  const end = p.selectionEnd ?? start;
  const before = p.value.slice(0, start);
  const pad = before && !/\s$/.test(before) ? ' ' : '';
  p.value = before + pad + text + p.value.slice(end);
  const caret = start + pad.length + text.length;
  p.setSelectionRange(caret, caret);
}

function renderAttachments() {
  ui.attachments.replaceChildren(...state.attachments.map(a => el('figure', { class: 'thumb' },
    el('img', { src: a.url, alt: `Attached image ${a.n}: ${a.name}` }),
    el('figcaption', {}, `[image ${a.n}]`),
    el('button', {
      type: 'button', class: 'icon', 'aria-label': `Remove image ${a.n}`,
      onclick: () => {
        state.attachments = state.attachments.filter(x => x !== a);
        ui.prompt.value = ui.prompt.value.replace(`[image ${a.n}] `, '').replace(`[image ${a.n}]`, '');
        renderAttachments();
      },
    }, '×'))));
}

/** The draft as ordered content parts: text around each [image N] marker; images whose marker was deleted go last. */
function draftParts() {
  const text = ui.prompt.value;
  const byNumber = new Map(state.attachments.map(a => [a.n, a]));
  const parts = [];
  const used = new Set();
  let last = 0;
  const pushText = t => { if (t.trim()) parts.push({ type: 'text', text: t.trim() }); };
  for (const m of text.matchAll(TOKEN)) {
    const a = byNumber.get(Number(m[1]));
    if (!a) continue;
    pushText(text.slice(last, m.index));
    parts.push({ type: 'image_url', image_url: { url: a.url } });
    used.add(a.n);
    last = m.index + m[0].length;
  }
  pushText(text.slice(last));
  for (const a of state.attachments) if (!used.has(a.n)) parts.push({ type: 'image_url', image_url: { url: a.url } });
  return parts;
}

function clearDraft() {
  ui.prompt.value = '';
  state.attachments = [];
  state.nextImage = 1;
  renderAttachments();
}

function loadDraft(parts) {
  clearDraft();
  const pieces = [];
  for (const p of parts) {
    if (p.type === 'text') pieces.push(p.text);
    else {
      const n = state.nextImage++;
      state.attachments.push({ n, url: p.image_url.url, name: `image ${n}` });
      pieces.push(`[image ${n}]`);
    }
  }
  ui.prompt.value = pieces.join(' ');
  renderAttachments();
}

// ---- sending, streaming, stopping ---------------------------------------------------------------------------------

function toApiMessages(messages) {
  const out = [];
  for (const m of messages) {
    if (m.role === 'user') {
      const images = m.parts.some(p => p.type === 'image_url');
      out.push({ role: 'user', content: images ? m.parts : m.parts.map(p => p.text).join('\n') });
    } else if (!m.error) {
      const text = m.parts.filter(p => p.type === 'text').map(p => p.text).join('');
      if (text) out.push({ role: 'assistant', content: text });
    }
  }
  return out;
}

function send() {
  if (state.running) return;
  const parts = draftParts();
  if (!parts.length) return;
  const conversation = ensureConversation();
  if (conversation.messages.length === 0) {
    const firstText = parts.find(p => p.type === 'text')?.text ?? 'Image chat';
    conversation.title = firstText.length > 48 ? `${firstText.slice(0, 47)}…` : firstText;
  }
  conversation.messages.push({ role: 'user', parts });
  clearDraft();
  answer(conversation);
}

async function answer(conversation) {
  const model = ui.model.value;
  const message = { role: 'assistant', model, parts: [], error: null, finish: null };
  const history = toApiMessages(conversation.messages);
  conversation.messages.push(message);
  persist();
  renderMessages();
  const view = ui.messages.lastElementChild;
  const controller = new AbortController();
  state.running = { controller, message };
  setRunning(true);
  view.setAttribute('aria-busy', 'true');
  try {
    const { finishReason } = await streamChat({ model, messages: history, ...samplingFields() }, {
      signal: controller.signal,
      onDelta: parts => {
        for (const p of parts) appendPart(message.parts, p);
        renderParts(view.querySelector('.body'), message.parts);
        ui.messages.scrollTop = ui.messages.scrollHeight;
      },
    });
    message.finish = finishReason;
  } catch (e) {
    if (e.name === 'AbortError') message.finish = 'stopped';
    else message.error = e instanceof ApiError ? e.describe() : String(e.message ?? e);
  } finally {
    state.running = null;
    setRunning(false);
    persist();
    renderMessages();
  }
}

function appendPart(parts, p) {
  const last = parts[parts.length - 1];
  if (p.type === 'text') {
    if (last?.type === 'text') last.text += p.text;
    else parts.push({ type: 'text', text: p.text });
  } else if (p.type === 'image_url') {
    parts.push({ type: 'image_url', image_url: { url: p.image_url.url }, source: p.source ?? null });
  }
}

function stop() {
  state.running?.controller.abort();
}

function setRunning(running) {
  ui.send.disabled = running;
  ui.stop.hidden = !running;
  ui.send.hidden = running;
}

function regenerate() {
  const c = state.current;
  if (!c || state.running) return;
  while (c.messages.length && c.messages[c.messages.length - 1].role === 'assistant') c.messages.pop();
  if (c.messages.length) answer(c);
}

function edit(index) {
  const c = state.current;
  if (!c || state.running) return;
  const parts = c.messages[index].parts;
  c.messages.splice(index);
  persist();
  renderMessages();
  loadDraft(parts);
  ui.prompt.focus();
}

// ---- rendering ----------------------------------------------------------------------------------------------------

function renderMessages() {
  const messages = state.current?.messages ?? [];
  const lastAssistant = messages.map(m => m.role).lastIndexOf('assistant');
  ui.messages.replaceChildren(...messages.map((m, i) => {
    const body = el('div', { class: 'body' });
    const article = el('article', { class: `message ${m.role}`, 'aria-label': m.role === 'user' ? 'You' : `Answer from ${m.model}` },
      el('header', {}, m.role === 'user' ? 'You' : m.model), body);
    if (m.role === 'user') renderUserParts(body, m.parts);
    else renderParts(body, m.parts);
    if (m.error) article.append(el('p', { class: 'error', role: 'alert' }, m.error));
    if (m.finish === 'stopped') article.append(el('p', { class: 'note' }, 'Stopped.'));
    else if (m.finish === 'length') article.append(el('p', { class: 'note' }, 'Stopped at the token limit.'));
    const actions = el('div', { class: 'actions' });
    if (m.role === 'user') actions.append(el('button', { type: 'button', onclick: () => edit(i) }, 'Edit'));
    if (m.role === 'assistant' && i === lastAssistant && !(state.running?.message === m)) {
      actions.append(el('button', { type: 'button', onclick: regenerate }, 'Regenerate'));
    }
    if (actions.childElementCount) article.append(actions);
    return article;
  }));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function renderUserParts(body, parts) {
  let image = 0;
  for (const p of parts) {
    if (p.type === 'text') body.append(el('p', { class: 'plain' }, p.text));
    else body.append(el('img', { class: 'sent', src: p.image_url.url, alt: `Sent image ${++image}` }));
  }
}

/**
 * Assistant parts into body, one child per part, updated in place: a text part's markdown is re-rendered when its
 * text grew, an image part is added once (a figure with its badge and a download link).
 */
function renderParts(body, parts) {
  let imageNo = 0;
  parts.forEach((p, i) => {
    let node = body.children[i];
    if (p.type === 'text') {
      if (!node || node.dataset.kind !== 'text') {
        node = el('div', { class: 'md', dataset: { kind: 'text' } });
        body.children[i] ? body.children[i].replaceWith(node) : body.append(node);
      }
      if (node.dataset.length !== String(p.text.length)) {
        node.innerHTML = renderMarkdown(p.text);
        node.dataset.length = String(p.text.length);
      }
    } else {
      imageNo++;
      if (node?.dataset.kind === 'image') return;
      // The part's source is ImageGen's decision ("generate" or "retrieve").
      const source = /^retrieve/.test(p.source ?? '') ? 'retrieved' : /^generate/.test(p.source ?? '') ? 'generated' : 'image';
      const url = p.image_url.url;
      const figure = el('figure', { class: 'output', dataset: { kind: 'image', source } },
        keyedImage(url, {
          alt: `${source === 'image' ? 'Image' : source === 'generated' ? 'Generated image' : 'Retrieved image'} ${imageNo}`,
          // The picture's height is known only once it loads: keep the newest content in view.
          onload: () => { ui.messages.scrollTop = ui.messages.scrollHeight; },
        }),
        el('figcaption', {},
          el('span', { class: `badge ${source}` }, source),
          el('a', { href: url, download: url.split('/').pop() || `image-${imageNo}.png`, onclick: downloadWithKey }, 'Download')));
      node ? node.replaceWith(figure) : body.append(figure);
    }
  });
}

/** An <img> of a platform URL: set at once without an API key, fetched with the key (an <img> cannot send it) otherwise. */
function keyedImage(url, attrs) {
  const img = el('img', attrs);
  if (!apiKey.get()) img.src = url;
  else authorizedUrl(url).then(src => { img.src = src; }, e => { img.alt = `${img.alt} (could not load: ${e.message})`; });
  return img;
}
