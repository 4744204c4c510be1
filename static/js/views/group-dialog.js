// One small dialog with one field, for "Rename" (the group's name) and "Add person" (a username
// or a phone number).

import { setText } from '../dom.js';

export class GroupDialog {
  /** @param {{dialog, form, title, label, input, error, cancel, submit, hint?}} els */
  constructor(els) {
    this.els = els;
    this.action = null;
    els.cancel.addEventListener('click', () => els.dialog.close());
    els.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit();
    });
  }

  /**
   * Ask for one value; `action(value)` does the work and rejects with a readable Error,
   * which is shown while the dialog stays open.
   */
  ask({ title, label, submit, value = '', hint = '', action }) {
    const { els } = this;
    setText(els.title, title);
    setText(els.label, label);
    if (els.hint) {
      setText(els.hint, hint);
      els.hint.hidden = !hint;
    }
    setText(els.submit, submit);
    els.input.value = value;
    this.action = action;
    this.#showError('');
    els.dialog.showModal();
    els.input.select();
  }

  async #submit() {
    const value = this.els.input.value.trim();
    if (!value || !this.action) return;
    this.els.form.setAttribute('aria-busy', 'true');
    try {
      await this.action(value);
      this.els.dialog.close();
    } catch (error) {
      this.#showError(error.message);
      this.els.input.focus();
    } finally {
      this.els.form.removeAttribute('aria-busy');
    }
  }

  #showError(message) {
    this.els.error.hidden = !message;
    setText(this.els.error, message);
  }
}
