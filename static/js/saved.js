// What a reload must not lose: each conversation's draft and the messages not yet sent. Kept
// in sessionStorage: per tab (as a reload is) and per user (another login in this tab starts
// clean). Storage can be full or switched off; the page then works as before, unsaved.

export class SavedText {
  constructor(me) {
    this.prefix = `parley:${me}:`;
  }

  draft(conversationSid) {
    return read(`${this.prefix}draft:${conversationSid}`) ?? '';
  }

  setDraft(conversationSid, text) {
    write(`${this.prefix}draft:${conversationSid}`, text.trim() ? text : null);
  }

  /** @returns {{clientId: string, conversationSid: string, body: string, createdAt: number}[]} */
  unsent() {
    let list;
    try {
      list = JSON.parse(read(`${this.prefix}unsent`) ?? '[]');
    } catch {
      return [];
    }
    if (!Array.isArray(list)) return [];
    return list.filter(
      (m) => typeof m?.clientId === 'string' && typeof m.conversationSid === 'string' && typeof m.body === 'string',
    );
  }

  setUnsent(messages) {
    const kept = messages.map(({ clientId, conversationSid, body, createdAt }) => ({ clientId, conversationSid, body, createdAt }));
    write(`${this.prefix}unsent`, kept.length ? JSON.stringify(kept) : null);
  }
}

function read(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Store `value`, or forget the key when it is null. */
function write(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // Full or forbidden: the text stays on screen, only a reload would lose it.
  }
}
