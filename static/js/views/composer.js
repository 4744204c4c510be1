// The message box: Enter sends, Shift+Enter is a new line; empty or over-long bodies are refused.
// It holds one conversation's draft at a time, and sends only into that conversation.

import { elementsUnder, setText } from '../dom.js';
import { bodyLength } from '../format.js';

const WARN_AT = 0.9; // show the count from 90% of the limit

export class ComposerView {
  /**
   * @param {{root: HTMLFormElement, maxBody: number,
   *   onSend: (sid: string, body: string) => void, onDraft: (sid: string, text: string) => void}} options
   * `root` is the composer's form (#composer).
   */
  constructor({ root: form, maxBody, onSend, onDraft }) {
    const { input, send, hint } = elementsUnder(form, { input: '#composer-input', send: '#composer-send', hint: '#composer-hint' });
    Object.assign(this, { form, input, send, hint, maxBody, onSend, onDraft });
    /** The conversation whose draft is in the box. */
    this.sid = null;
    input.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' || event.shiftKey || event.altKey || event.isComposing) return;
      event.preventDefault();
      this.#submit();
    });
    input.addEventListener('input', () => {
      this.#validate();
      if (this.sid) this.onDraft(this.sid, input.value);
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit();
    });
    this.#validate();
  }

  focus() {
    this.input.focus();
  }

  /** Show conversation `sid`'s draft (each draft is saved as it is typed). */
  open(sid, draft) {
    if (sid === this.sid) return;
    this.sid = sid;
    this.input.value = draft;
    this.#validate();
  }

  #submit() {
    const body = this.#validate();
    if (body === null || !this.sid) return;
    this.onSend(this.sid, body);
    this.input.value = '';
    this.onDraft(this.sid, '');
    this.#validate();
  }

  /** Returns the body to send, or null when it must not be sent (and says why). */
  #validate() {
    const body = this.input.value.trim();
    const length = bodyLength(body);
    const tooLong = length > this.maxBody;
    this.send.disabled = body === '' || tooLong;
    this.input.setAttribute('aria-invalid', String(tooLong));
    this.hint.classList.toggle('composer__hint--error', tooLong);
    let hint = '';
    if (tooLong) {
      hint = `Too long: ${length.toLocaleString()} of ${this.maxBody.toLocaleString()} characters allowed. Shorten it to send.`;
    } else if (length >= this.maxBody * WARN_AT) {
      hint = `${length.toLocaleString()} / ${this.maxBody.toLocaleString()} characters`;
    }
    setText(this.hint, hint);
    return body === '' || tooLong ? null : body;
  }
}
