// Small DOM helpers: el('button', {type: 'button', onclick}, 'text', child...).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c != null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Fills a <select> with ids, keeping the current choice when it is still offered. */
export function fillSelect(select, ids, preferred) {
  const keep = select.value || preferred;
  select.replaceChildren(...ids.map(id => el('option', { value: id }, id)));
  if (ids.includes(keep)) select.value = keep;
}

export function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** Shows an error in the page-wide alert line (cleared with null). */
export function showGlobalError(message) {
  const p = document.getElementById('global-error');
  p.textContent = message ?? '';
  p.hidden = !message;
}
