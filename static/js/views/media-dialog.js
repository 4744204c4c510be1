// A photo at full size, in a modal <dialog>: it takes focus, Escape or Close shut it, and
// focus goes back to the thumbnail that opened it.

import { elementsUnder, h, setText } from '../dom.js';

export class MediaDialog {
  /** @param {HTMLDialogElement} dialog */
  constructor(dialog) {
    this.els = elementsUnder(dialog, {
      title: '#media-dialog-title',
      frame: '#media-dialog-frame',
      download: '#media-dialog-download',
      close: '#media-dialog-close',
    });
    this.dialog = dialog;
    this.opener = null;
    this.els.close.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      this.els.frame.replaceChildren(); // a large photo is not kept while the dialog is shut
      this.opener?.focus();
    });
    // A click on the backdrop (outside the box) closes it too.
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close();
    });
  }

  /** Show `media` (served from `url`); `opener` gets focus back on close. */
  open(media, url, opener) {
    const name = media.filename || 'Photo';
    this.opener = opener;
    setText(this.els.title, name);
    this.els.frame.replaceChildren(h('img', { className: 'media-dialog__image', src: url, alt: name }));
    this.els.download.href = url;
    this.els.download.setAttribute('download', media.filename || '');
    this.dialog.showModal();
    this.els.close.focus();
  }
}
