// One small dialog with one field, for "Rename" (the group's name) and "Add person" (a username
// or a phone number).

import { elementsUnder, setText } from '../dom.js';

export class GroupDialog {
  /** @param {HTMLDialogElement} dialog */
  constructor(dialog) {
    const els = elementsUnder(dialog, {
      form: '#group-dialog-form',
      title: '#group-dialog-title',
      label: '#group-dialog-label',
      input: '#group-dialog-input',
      error: '#group-dialog-error',
      cancel: '#group-dialog-cancel',
      submit: '#group-dialog-submit',
      hint: '#group-dialog-hint',
    });
    els.dialog = dialog;
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
    setText(els.hint, hint);
    els.hint.hidden = !hint;
    setText(els.submit, submit);
    els.input.value = value;
    this.action = action;
    this.#showError('');
    els.dialog.showModal();
    els.input.select();
  }

  async #submit() {
    const { els } = this;
    const value = els.input.value.trim();
    if (!this.action || els.submit.disabled) return;
    if (!value) {
      this.#showError(`${els.label.textContent} cannot be empty.`);
      els.input.focus();
      return;
    }
    // One request at a time: a second Enter while the first is on its way does nothing.
    els.form.setAttribute('aria-busy', 'true');
    els.submit.disabled = true;
    try {
      await this.action(value);
      els.dialog.close();
    } catch (error) {
      this.#showError(error.message);
      els.input.focus();
    } finally {
      els.form.removeAttribute('aria-busy');
      els.submit.disabled = false;
    }
  }

  #showError(message) {
    this.els.error.hidden = !message;
    setText(this.els.error, message);
    if (message) this.els.input.setAttribute('aria-invalid', 'true');
    else this.els.input.removeAttribute('aria-invalid');
  }
}
