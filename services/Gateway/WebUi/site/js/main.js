// Start-up: models from /v1/models decide what is offered (the judge view only when a judge model is served), then
// the three views and their tabs.
import { ApiError, apiKey, hasCapability, listModels } from './api.js';
import { $, fillSelect, showGlobalError } from './dom.js';
import { initBatches, setBatchesActive } from './batches.js';
import { initChat, setChatModels } from './chat.js';
import { initJudge } from './judge.js';

const views = ['chat', 'judge', 'batches'];

function select(name) {
  for (const v of views) {
    const tab = $(`#tab-${v}`);
    tab.setAttribute('aria-selected', String(v === name));
    tab.tabIndex = v === name ? 0 : -1;
    $(`#view-${v}`).hidden = v !== name;
  }
  setBatchesActive(name === 'batches');
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
}

function initTabs() {
  const tabs = () => views.map(v => $(`#tab-${v}`)).filter(t => !t.hidden);
  for (const v of views) $(`#tab-${v}`).addEventListener('click', () => select(v));
  // Arrow keys move between tabs (WAI-ARIA tabs pattern).
  $('.tabs').addEventListener('keydown', e => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const list = tabs();
    const i = list.indexOf(document.activeElement);
    const next = list[(i + (e.key === 'ArrowRight' ? 1 : list.length - 1)) % list.length];
    next.focus();
    next.click();
  });
}

async function loadModels() {
  let models;
  try {
    models = await listModels();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      // A gateway with API keys: ask for one (the platform's own 401 says whether it was missing or wrong).
      $('#api-key-panel').open = true;
      showGlobalError(`This gateway needs an API key: enter yours under "API key" at the top. (${e.describe()})`);
      $('#api-key').focus();
    } else {
      showGlobalError(`Could not list the models: ${e instanceof ApiError ? e.describe() : e.message}`);
    }
    return;
  }
  showGlobalError(null);
  if (!models.length) showGlobalError('No model is served yet: the workers have not announced any.');
  const judges = models.filter(m => hasCapability(m, 'judge'));
  // Chat models: everything that is not only a judge.
  const chat = models.filter(m => !(hasCapability(m, 'judge') && m.capabilities.length === 1));
  setChatModels(chat.length ? chat : models);
  for (const s of document.querySelectorAll('select.chat-models')) fillSelect(s, (chat.length ? chat : models).map(m => m.id));
  for (const s of document.querySelectorAll('select.judge-models')) fillSelect(s, judges.map(m => m.id));
  $('#tab-judge').hidden = judges.length === 0;
  document.body.dataset.ready = 'true';
  const wanted = location.hash.slice(1);
  select(views.includes(wanted) && !$(`#tab-${wanted}`).hidden ? wanted : 'chat');
}

function initApiKey() {
  const input = $('#api-key');
  input.value = apiKey.get() ?? '';
  $('#api-key-form').addEventListener('submit', e => {
    e.preventDefault();
    apiKey.set(input.value.trim());
    $('#api-key-panel').open = false;
    loadModels();
  });
  $('#api-key-forget').addEventListener('click', () => {
    apiKey.set(null);
    input.value = '';
    loadModels();
  });
}

initTabs();
initApiKey();
initChat();
initBatches();
initJudge();
select('chat');
loadModels();
