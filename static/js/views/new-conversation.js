// "New conversation": pick someone from /api/users or type a username, then start or reopen
// the conversation with them; or name a group and list its people ("New group").

import { elementsUnder, h, setText } from '../dom.js';

export class NewConversationDialog {
  /**
   * @param {object} options
   * @param {HTMLDialogElement} options.root  the dialog (#new-conversation-dialog)
   * @param {HTMLElement} options.opener  the button that opens it
   * @param {() => Promise<{users: {identity: string, display_name: string}[]}>} options.loadUsers
   * @param {(username: string) => Promise<object>} options.start  the conversation; rejects with a readable Error
   * @param {(name: string, usernames: string[]) => Promise<object>} options.startGroup  likewise
   * @param {(conversation: object) => void} options.onStarted  after the dialog has closed
   */
  constructor({ root, opener, loadUsers, start, startGroup, onStarted }) {
    const els = elementsUnder(root, {
      form: '#new-conversation-form',
      input: '#new-conversation-username',
      options: '#new-conversation-options',
      people: '#new-conversation-people',
      peopleStatus: '#new-conversation-people-status',
      error: '#new-conversation-error',
      cancel: '#new-conversation-cancel',
      groupForm: '#new-group-form',
      groupName: '#new-group-name',
      groupPeople: '#new-group-people',
      groupError: '#new-group-error',
    });
    els.dialog = root;
    this.els = els;
    this.loadUsers = loadUsers;
    this.start = start;
    this.startGroup = startGroup;
    this.onStarted = onStarted;
    this.busy = false;
    opener.addEventListener('click', () => this.open());
    els.cancel.addEventListener('click', () => els.dialog.close());
    els.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#start(els.input.value.trim());
    });
    els.groupForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#startGroup();
    });
    els.people.addEventListener('click', (event) => {
      const person = event.target.closest('button[data-username]');
      if (person) this.#start(person.dataset.username);
    });
  }

  async open() {
    const { els } = this;
    els.form.reset();
    els.groupForm.reset();
    this.#showError('');
    this.#showError('', els.groupError);
    els.dialog.showModal();
    els.input.focus();
    setText(els.peopleStatus, 'Loading people…');
    els.peopleStatus.hidden = false;
    try {
      const { users } = await this.loadUsers();
      els.people.replaceChildren(
        ...users.map((user) =>
          h(
            'li',
            {},
            h('button', { type: 'button', className: 'person', dataset: { username: user.identity } }, user.display_name),
          ),
        ),
      );
      els.options.replaceChildren(...users.map((user) => h('option', { value: user.identity })));
      els.peopleStatus.hidden = users.length > 0;
      setText(els.peopleStatus, 'Nobody else is on Parley yet. You can still type a username.');
    } catch (error) {
      setText(els.peopleStatus, `People could not be loaded: ${error.message}`);
    }
  }

  async #start(username) {
    if (this.busy) return;
    if (!username) {
      this.#showError('Type a username, or pick someone from the list.');
      this.els.input.focus();
      return;
    }
    this.busy = true;
    this.#showError('');
    this.els.form.setAttribute('aria-busy', 'true');
    let conversation;
    try {
      conversation = await this.start(username);
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
    const usernames = els.groupPeople.value
      .split(/[\s,]+/)
      .map((username) => username.trim())
      .filter(Boolean);
    if (!name || !usernames.length) {
      this.#showError('A group needs a name and at least one person.', els.groupError);
      (name ? els.groupPeople : els.groupName).focus();
      return;
    }
    this.busy = true;
    this.#showError('', els.groupError);
    let conversation;
    try {
      conversation = await this.startGroup(name, usernames);
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
