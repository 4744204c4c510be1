// The message box: Enter sends, Shift+Enter is a new line; empty or over-long bodies are refused.
// It holds one conversation's draft at a time, and sends only into that conversation.

import { elementsUnder, setText } from '../dom.js';
import { bodyLength } from '../format.js';
import { AttachmentsView } from './attachments.js';

const WARN_AT = 0.9; // show the count from 90% of the limit

export class ComposerView {
  /**
   * @param {{root: HTMLFormElement, maxBody: number,
   *   onSend: (sid: string, body: string) => void, onDraft: (sid: string, text: string) => void,
   *   maxFile: number, onSendFiles: (sid, body, files, progress) => Promise<void>}} options
   * `root` is the composer's form (#composer).
   */
  constructor({ root: form, maxBody, maxFile, onSend, onSendFiles, onDraft }) {
    const { input, send, hint } = elementsUnder(form, { input: '#composer-input', send: '#composer-send', hint: '#composer-hint' });
    Object.assign(this, { form, input, send, hint, maxBody, onSend, onSendFiles, onDraft });
    this.uploading = false;
    this.attachments = new AttachmentsView({ form, maxFile, onChange: () => this.#validate() });
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
    if (!this.uploading) this.attachments.clear(); // files belong to the conversation they were added in
    this.sid = sid;
    this.input.value = draft;
    this.#validate();
  }

  #submit() {
    const body = this.#validate();
    if (body === null || !this.sid) return;
    if (this.attachments.count) {
      this.#sendFiles(body);
      return;
    }
    this.onSend(this.sid, body);
    this.input.value = '';
    this.onDraft(this.sid, '');
    this.#validate();
  }

  /** Upload the files, then send them with the text as caption; a refusal is shown here and
   *  the files and text stay, so nothing half-sent appears in the conversation. */
  async #sendFiles(body) {
    const { sid, attachments } = this;
    this.uploading = true;
    attachments.showError('');
    this.#validate();
    try {
      await this.onSendFiles(sid, body, attachments.files, (fraction) => attachments.setProgress(fraction));
      attachments.clear();
      if (this.sid === sid) this.input.value = '';
      this.onDraft(sid, '');
    } catch (error) {
      attachments.showError(`Not sent: ${error.message}`);
    } finally {
      this.uploading = false;
      attachments.setProgress(null);
      this.#validate();
    }
  }

  /** Returns the body to send, or null when it must not be sent (and says why). */
  #validate() {
    const body = this.input.value.trim();
    const length = bodyLength(body);
    const tooLong = length > this.maxBody;
    const empty = body === '' && !this.attachments?.count;
    this.send.disabled = empty || tooLong || this.uploading;
    this.input.setAttribute('aria-invalid', String(tooLong));
    this.hint.classList.toggle('composer__hint--error', tooLong);
    let hint = '';
    if (tooLong) {
      hint = `Too long: ${length.toLocaleString()} of ${this.maxBody.toLocaleString()} characters allowed. Shorten it to send.`;
    } else if (length >= this.maxBody * WARN_AT) {
      hint = `${length.toLocaleString()} / ${this.maxBody.toLocaleString()} characters`;
    }
    setText(this.hint, hint);
    return empty || tooLong || this.uploading ? null : body;
  }
}
