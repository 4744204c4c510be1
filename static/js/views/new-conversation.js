// "New conversation": search people by name as you type (GET /api/users?q=, a page at a time)
// or type someone's identity, then start or reopen the conversation with them; or name a group
// and list its people ("New group"). Without a directory (PARLEY_DIRECTORY=off) the dialog
// says that conversations come from the site instead.

import { elementsUnder, h, setText } from '../dom.js';

/** Characters typed before a search is sent (the server refuses fewer). */
export const MIN_QUERY = 2;
/** Quiet time after a keystroke before searching: one request per pause, not per key. */
const SEARCH_DELAY_MS = 250;

export class NewConversationDialog {
  /**
   * @param {object} options
   * @param {HTMLDialogElement} options.root  the dialog (#new-conversation-dialog)
   * @param {HTMLElement} options.opener  the button that opens it
   * @param {boolean} options.directory  false: the site makes conversations, nobody searches
   * @param {(query: string, after?: string) => Promise<{users: {identity: string, display_name: string}[], next: string|null}>} options.search
   * @param {(identity: string) => Promise<object>} options.start  the conversation; rejects with a readable Error
   * @param {(name: string, identities: string[]) => Promise<object>} options.startGroup  likewise
   * @param {(conversation: object) => void} options.onStarted  after the dialog has closed
   */
  constructor({ root, opener, directory, search, start, startGroup, onStarted }) {
    const els = elementsUnder(root, {
      form: '#new-conversation-form',
      input: '#new-conversation-username',
      people: '#new-conversation-people',
      peopleStatus: '#new-conversation-people-status',
      more: '#new-conversation-more',
      error: '#new-conversation-error',
      cancel: '#new-conversation-cancel',
      groupForm: '#new-group-form',
      groupName: '#new-group-name',
      groupPeople: '#new-group-people',
      groupError: '#new-group-error',
      noDirectory: '#new-conversation-no-directory',
      close: '#new-conversation-close',
    });
    els.dialog = root;
    this.els = els;
    Object.assign(this, { directory, search, start, startGroup, onStarted });
    this.busy = false;
    this.searchTimer = null;
    /** Bumped by every search: an answer to an older one is dropped. */
    this.searchSeq = 0;
    this.next = null;
    els.form.hidden = !directory;
    els.groupForm.hidden = !directory;
    els.noDirectory.hidden = directory;
    opener.addEventListener('click', () => this.open());
    els.cancel.addEventListener('click', () => els.dialog.close());
    els.close.addEventListener('click', () => els.dialog.close());
    els.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#start(els.input.value.trim());
    });
    els.input.addEventListener('input', () => this.#searchSoon());
    els.more.addEventListener('click', () => this.#search(this.next));
    els.groupForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#startGroup();
    });
    els.people.addEventListener('click', (event) => {
      const person = event.target.closest('button[data-identity]');
      if (person) this.#start(person.dataset.identity);
    });
  }

  open() {
    const { els } = this;
    els.form.reset();
    els.groupForm.reset();
    this.#showError('');
    this.#showError('', els.groupError);
    this.#showPeople([], null, 'Type at least two letters of a name.');
    els.dialog.showModal();
    (this.directory ? els.input : els.close).focus();
  }

  #searchSoon() {
    clearTimeout(this.searchTimer);
    this.searchSeq += 1; // what is on its way is for an older text
    const query = this.els.input.value.trim();
    if ([...query].length < MIN_QUERY) {
      this.#showPeople([], null, 'Type at least two letters of a name.');
      return;
    }
    setText(this.els.peopleStatus, 'Searching…');
    this.els.peopleStatus.hidden = false;
    this.searchTimer = setTimeout(() => this.#search(null), SEARCH_DELAY_MS);
  }

  /** One page of people for what is typed; `after` continues the page shown. */
  async #search(after) {
    const query = this.els.input.value.trim();
    const seq = ++this.searchSeq;
    try {
      const { users, next } = await this.search(query, after ?? undefined);
      if (seq !== this.searchSeq) return;
      const shown = after ? [...this.els.people.children] : [];
      this.#showPeople(users, next, users.length || shown.length ? '' : `Nobody found for “${query}”.`, shown);
    } catch (error) {
      if (seq === this.searchSeq) this.#showPeople([], null, `People could not be searched: ${error.message}`);
    }
  }

  #showPeople(users, next, status, kept = []) {
    const { els } = this;
    const rows = users.map((user) =>
      h(
        'li',
        {},
        h('button', { type: 'button', className: 'person', dataset: { identity: user.identity } }, user.display_name),
      ),
    );
    els.people.replaceChildren(...kept, ...rows);
    this.next = next;
    els.more.hidden = !next;
    els.peopleStatus.hidden = !status;
    setText(els.peopleStatus, status);
  }

  async #start(identity) {
    if (this.busy) return;
    if (!identity) {
      this.#showError('Type a name and pick the person, or type their username.');
      this.els.input.focus();
      return;
    }
    this.busy = true;
    this.#showError('');
    this.els.form.setAttribute('aria-busy', 'true');
    let conversation;
    try {
      conversation = await this.start(identity);
    } catch (error) {
      this.#showError(error.message);
      this.els.input.focus();
    } finally {
      this.busy = false;
      this.els.form.removeAttribute('aria-busy');
    }
    if (conversation) {
      this.els.dialog.close();
      this.onStarted(conversation);
    }
  }

  async #startGroup() {
    const { els } = this;
    if (this.busy) return;
    const name = els.groupName.value.trim();
    const identities = els.groupPeople.value
      .split(/[\s,]+/)
      .map((identity) => identity.trim())
      .filter(Boolean);
    if (!name || !identities.length) {
      this.#showError('A group needs a name and at least one person.', els.groupError);
      (name ? els.groupPeople : els.groupName).focus();
      return;
    }
    this.busy = true;
    this.#showError('', els.groupError);
    let conversation;
    try {
      conversation = await this.startGroup(name, identities);
    } catch (error) {
      this.#showError(error.message, els.groupError);
      els.groupPeople.focus();
    } finally {
      this.busy = false;
    }
    if (conversation) {
      els.dialog.close();
      this.onStarted(conversation);
    }
  }

  #showError(message, el = this.els.error) {
    el.hidden = !message;
    setText(el, message);
  }
}
