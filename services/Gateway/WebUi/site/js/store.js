// Conversations kept in the browser (localStorage), newest first.
const KEY = 'platform.conversations.v1';

export function loadConversations() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/**
 * Saves all conversations. Returns null, or a warning when the browser's quota was exceeded: then attached images
 * of older conversations are dropped (their text stays) and saving is tried again.
 */
export function saveConversations(list) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
    return null;
  } catch (e) {
    if (e.name !== 'QuotaExceededError') throw e;
    const slim = list.map((c, i) => i === 0 ? c : {
      ...c,
      messages: c.messages.map(m => ({ ...m, parts: m.parts.filter(p => p.type !== 'image_url' || !p.image_url.url.startsWith('data:')) })),
    });
    try {
      localStorage.setItem(KEY, JSON.stringify(slim));
      return 'Browser storage is full: attached images of older conversations were not kept.';
    } catch {
      return 'Browser storage is full: this conversation could not be saved.';
    }
  }
}

export const newId = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
