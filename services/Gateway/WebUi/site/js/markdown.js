// Markdown in answers: marked (GFM) renders, DOMPurify removes anything that could run script. Both vendored under
// ui/vendor with their licences (see WebUi/README.md).
import { marked } from '../vendor/marked/marked.esm.js';
import DOMPurify from '../vendor/dompurify/dompurify.mjs';

marked.use({ gfm: true, breaks: true });

/** Sanitised HTML for a markdown string. */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text ?? ''), { USE_PROFILES: { html: true } });
}
