// The connection banner, the error banner and the screen-reader announcer.

import { elementsUnder, setText } from '../dom.js';

const CONNECTION_TEXT = { connecting: 'Connecting…', reconnecting: 'Reconnecting…' };

export class Banners {
  /** @param {HTMLElement} root holds the banners and the announcer (#banners) */
  constructor(root) {
    const els = elementsUnder(root, {
      connection: '#connection-banner',
      error: '#error-banner',
      errorText: '#error-banner-text',
      errorDismiss: '#error-banner-dismiss',
      announcer: '#announcer',
    });
    this.connectionEl = els.connection;
    this.errorEl = els.error;
    this.errorText = els.errorText;
    this.announcer = els.announcer;
    els.errorDismiss.addEventListener('click', () => this.clearError());
  }

  /** @param {'connecting'|'open'|'reconnecting'} status */
  showConnection(status) {
    const text = CONNECTION_TEXT[status];
    this.connectionEl.hidden = !text;
    if (text) setText(this.connectionEl, text);
  }

  /** @param {string|null} topic lets the error be taken back once it no longer holds */
  showError(message, topic = null) {
    setText(this.errorText, message);
    this.errorEl.hidden = false;
    this.errorTopic = topic;
  }

  /** Hide the error; with a topic, only if the error shown is still about it. */
  clearError(topic = null) {
    if (topic !== null && topic !== this.errorTopic) return;
    this.errorEl.hidden = true;
    setText(this.errorText, '');
    this.errorTopic = null;
  }

  /** Say something politely; a fresh node each time, so the same words are announced again. */
  announce(text) {
    const line = document.createElement('p');
    line.textContent = text;
    this.announcer.append(line);
    while (this.announcer.childElementCount > 3) this.announcer.firstElementChild.remove();
  }
}
