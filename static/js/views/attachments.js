// The composer's files: picked with the paperclip, dropped on the composer or pasted (a
// screenshot), each shown with a remove button before it is sent, and the upload's progress.
// Previews are data: URLs read locally (the CSP allows img-src 'self' data:, not blob:).

import { elementsUnder, h, setText } from '../dom.js';
import { fileSize } from '../format.js';

/** Twilio takes at most 10 files with one message. */
export const MAX_FILES = 10;
/** Images shown as a thumbnail before sending (others show their name). */
const PREVIEWED = /^image\/(png|jpeg|gif|webp)$/;

export class AttachmentsView {
  /** @param {{form: HTMLFormElement, maxFile: number, onChange: () => void}} options */
  constructor({ form, maxFile, onChange }) {
    const els = elementsUnder(form, {
      list: '#composer-files',
      progress: '#composer-progress',
      error: '#composer-error',
      attach: '#composer-attach',
      input: '#composer-file-input',
      text: '#composer-input',
    });
    Object.assign(this, { els, form, maxFile, onChange });
    /** @type {File[]} */
    this.files = [];
    els.attach.addEventListener('click', () => els.input.click());
    els.input.addEventListener('change', () => {
      this.add([...els.input.files]);
      els.input.value = '';
    });
    els.text.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (!files.length) return;
      event.preventDefault();
      this.add(files);
    });
    form.addEventListener('dragover', (event) => {
      if (![...(event.dataTransfer?.types ?? [])].includes('Files')) return;
      event.preventDefault();
      form.classList.add('composer--dragging');
    });
    form.addEventListener('dragleave', () => form.classList.remove('composer--dragging'));
    form.addEventListener('drop', (event) => {
      form.classList.remove('composer--dragging');
      const files = [...(event.dataTransfer?.files ?? [])];
      if (!files.length) return;
      event.preventDefault();
      this.add(files);
    });
  }

  get count() {
    return this.files.length;
  }

  /** Take files, refusing (with a readable reason) what cannot be sent. */
  add(files) {
    const refused = [];
    for (const file of files) {
      if (this.files.length >= MAX_FILES) refused.push(`at most ${MAX_FILES} files go in one message`);
      else if (file.size === 0) refused.push(`${file.name || 'the file'} is empty`);
      else if (file.size > this.maxFile) refused.push(`${file.name || 'the file'} is over ${fileSize(this.maxFile)}`);
      else this.files.push(file);
    }
    this.showError(refused.length ? `Not added: ${refused.join('; ')}.` : '');
    this.#render();
  }

  clear() {
    this.files = [];
    this.#render();
  }

  showError(text) {
    setText(this.els.error, text);
    this.els.error.hidden = !text;
  }

  /** `fraction` in 0..1 while uploading; null hides the bar. */
  setProgress(fraction) {
    this.els.progress.hidden = fraction === null;
    this.els.progress.value = fraction ?? 0;
  }

  #render() {
    const { list } = this.els;
    list.replaceChildren(...this.files.map((file, at) => this.#item(file, at)));
    list.hidden = this.files.length === 0;
    this.onChange();
  }

  #item(file, at) {
    const name = file.name || 'Pasted image';
    const remove = h(
      'button',
      { type: 'button', className: 'button button--small button--quiet', attrs: { 'aria-label': `Remove ${name}` } },
      '✕',
    );
    remove.addEventListener('click', () => {
      this.files.splice(at, 1);
      this.#render();
      this.els.text.focus();
    });
    const item = h('li', { className: 'composer__file' });
    if (PREVIEWED.test(file.type)) {
      const img = h('img', { alt: `Preview of ${name}` });
      const reader = new FileReader();
      reader.addEventListener('load', () => {
        img.src = String(reader.result);
      });
      reader.readAsDataURL(file);
      item.append(img);
    }
    item.append(h('span', { className: 'composer__file-name', title: name }, name), remove);
    return item;
  }
}
