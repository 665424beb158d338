// The judge view (shown only when a model with the "judge" capability is served): compare two answers side by side
// (ordered or set mode), rate one answer, best-of-n on a chat turn.
import { ApiError, compare, completeChat, messageText, rate } from './api.js';
import { $, el, readAsDataUrl } from './dom.js';
import { renderMarkdown } from './markdown.js';

export function initJudge() {
  $('#compare').addEventListener('click', runCompare);
  $('#swap').addEventListener('click', () => {
    const a = $('#answer-a'); const b = $('#answer-b');
    [a.value, b.value] = [b.value, a.value];
  });
  $('#gen-a').addEventListener('click', () => generateInto('#gen-model-a', '#answer-a', '#gen-a'));
  $('#gen-b').addEventListener('click', () => generateInto('#gen-model-b', '#answer-b', '#gen-b'));
  $('#rate').addEventListener('click', runRate);
  $('#best').addEventListener('click', runBestOf);
}

const conversation = prompt => [{ role: 'user', content: prompt }];

/** The judged conversation: the prompt, after the chosen image when there is one (as the chat view sends it). */
async function judgedConversation(prompt, imageInput) {
  const file = $(imageInput).files[0];
  if (!file) return conversation(prompt);
  const url = await readAsDataUrl(file);
  return [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: prompt }] }];
}
const failure = e => el('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? e.describe() : String(e.message ?? e));

function critiqueBlock(critique, raw) {
  const block = el('div', { class: 'critique' });
  if (critique) {
    const md = el('div', { class: 'md' });
    md.innerHTML = renderMarkdown(critique);
    block.append(el('h3', {}, 'Critique'), md);
  }
  if (raw && raw !== critique) block.append(el('details', {}, el('summary', {}, 'Raw judge output'), el('pre', {}, raw)));
  return block;
}

async function busy(button, target, work) {
  button.disabled = true;
  target.replaceChildren(el('p', { class: 'note' }, 'Working…'));
  target.setAttribute('aria-busy', 'true');
  try {
    await work();
  } catch (e) {
    target.replaceChildren(failure(e));
  } finally {
    button.disabled = false;
    target.removeAttribute('aria-busy');
  }
}

async function generateInto(modelSelect, textarea, button) {
  const prompt = $('#compare-prompt').value.trim();
  const target = $('#compare-result');
  if (!prompt) { target.replaceChildren(el('p', { class: 'note' }, 'Write the prompt first.')); return; }
  await busy($(button), target, async () => {
    const response = await completeChat({ model: $(modelSelect).value, messages: await judgedConversation(prompt, '#compare-image') });
    $(textarea).value = messageText(response.choices[0]?.message);
    target.replaceChildren();
  });
}

function verdictText(winner) {
  if (winner === 0) return ['a', 'Answer A is better.'];
  if (winner === 1) return ['b', 'Answer B is better.'];
  if (winner === 'tie') return ['tie', 'Tie: neither answer is better.'];
  return ['none', 'No verdict: the judge wrote none that could be read.'];
}

async function runCompare() {
  const target = $('#compare-result');
  const prompt = $('#compare-prompt').value.trim();
  const a = $('#answer-a').value.trim();
  const b = $('#answer-b').value.trim();
  if (!prompt || !a || !b) { target.replaceChildren(el('p', { class: 'note' }, 'A prompt and two answers are needed.')); return; }
  const mode = document.querySelector('input[name="judge-mode"]:checked').value;
  await busy($('#compare'), target, async () => {
    const result = await compare($('#judge-model').value, await judgedConversation(prompt, '#compare-image'), [a, b], mode);
    const [key, text] = verdictText(result.winner);
    target.replaceChildren(el('p', { class: `verdict verdict-${key}`, dataset: { winner: key, mode } }, text), critiqueBlock(result.critique, result.raw));
  });
}

async function runRate() {
  const target = $('#rate-result');
  const prompt = $('#rate-prompt').value.trim();
  const answer = $('#rate-answer').value.trim();
  if (!prompt || !answer) { target.replaceChildren(el('p', { class: 'note' }, 'A prompt and an answer are needed.')); return; }
  await busy($('#rate'), target, async () => {
    const result = await rate($('#rate-model').value, await judgedConversation(prompt, '#rate-image'), answer);
    const rating = result.rating == null ? 'No rating could be read.' : `Rating: ${result.rating} / 10`;
    target.replaceChildren(el('p', { class: 'verdict', dataset: { rating: result.rating ?? 'none' } }, rating), critiqueBlock(result.critique, result.raw));
  });
}

/** Candidates of a best-of-n response, wherever the extension puts them: [{text, score, critique, chosen}]. */
// Best-of-n answers carry best_of_candidates: [{index, content, rating, critique}] (services/Gateway/Judge/BestOf.cs);
// the chosen one is the highest rating, the lowest index among equals, as the gateway picks it.
function candidatesOf(response) {
  const list = response.best_of_candidates ?? [];
  const best = list.reduce((b, c) => (c.rating != null && (b == null || c.rating > b.rating) ? c : b), null);
  return list.map(c => ({ text: c.content ?? '', score: c.rating ?? null, critique: c.critique ?? null, chosen: c === best }));
}

async function runBestOf() {
  const target = $('#best-result');
  const prompt = $('#best-prompt').value.trim();
  if (!prompt) { target.replaceChildren(el('p', { class: 'note' }, 'Write the prompt first.')); return; }
  await busy($('#best'), target, async () => {
    const response = await completeChat({
      model: $('#best-model').value, messages: conversation(prompt), best_of: Number($('#best-n').value),
      judge: $('#best-judge').value, temperature: Number($('#best-temperature').value),
    });
    const chosen = messageText(response.choices?.[0]?.message);
    const candidates = candidatesOf(response);
    const best = Math.max(...candidates.map(c => c.score ?? -Infinity));
    target.replaceChildren(
      el('h3', {}, 'Chosen answer'), el('p', { class: 'plain chosen' }, chosen),
      el('h3', {}, `Candidates (${candidates.length})`),
      el('ol', { class: 'candidates' }, candidates.map(c => el('li', { class: c.chosen || (c.score != null && c.score === best) ? 'best' : '' },
        el('span', { class: 'badge' }, c.score == null ? 'no score' : `score ${c.score}`),
        el('p', { class: 'plain' }, c.text),
        c.critique ? el('details', {}, el('summary', {}, 'Critique'), el('p', { class: 'plain' }, c.critique)) : null))));
  });
}
