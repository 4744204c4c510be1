// Browser notifications for messages that arrive while no Parley tab is on screen (Notification
// API; no push service: they come from the browser's one /stream, so only while a tab is open).
// One per message per browser: only the tab that holds the stream raises it (tabs.js).

import { nameOf } from './names.js';
import { mediaLabel } from './format.js';

const PREVIEW_CHARS = 120;

export class Notifier {
  /**
   * @param {{control: HTMLButtonElement, onOpen: (sid: string) => void}} options
   * `control` is the "Enable notifications" button: shown only while the browser could still
   * ask (permission "default"); `onOpen(sid)` opens the conversation a notification is about.
   * `unseen()` says whether a message now would go unseen: by default while this tab is hidden;
   * with tabs sharing a stream, in one tab only, while none of them is on screen.
   */
  constructor({ control, onOpen, isMuted = () => false, unseen = () => document.visibilityState === 'hidden' }) {
    this.control = control;
    this.isMuted = isMuted; // (sid) => the user muted that conversation: no notification
    this.onOpen = onOpen;
    this.unseen = unseen;
    this.supported = 'Notification' in window;
    control.addEventListener('click', () => this.#ask());
    this.#showControl();
  }

  /** Tell the user about `message` in `conversationName` if it would go unseen and they allowed it. */
  notify(message, conversationName) {
    if (!this.supported || Notification.permission !== 'granted') return;
    if (!this.unseen()) return;
    if (this.isMuted(message.conversation_sid)) return;
    const author = nameOf(message.author);
    const sender = message.source === 'SMS' ? `${author} (SMS)` : author;
    const title = conversationName && conversationName !== author ? `${sender} in ${conversationName}` : sender;
    const body = [...(message.body || mediaLabel(message.media))].slice(0, PREVIEW_CHARS).join('');
    const sid = message.conversation_sid;
    let notification;
    try {
      // One notification per conversation (tag): a burst replaces, not piles up, yet still alerts.
      notification = new Notification(title, { body, tag: sid, renotify: true });
    } catch {
      return; // Chrome on Android only shows them through a service worker: the title count stays
    }
    notification.addEventListener('click', () => {
      window.focus();
      this.onOpen(sid);
      notification.close();
    });
  }

  async #ask() {
    try {
      await Notification.requestPermission();
    } finally {
      this.#showControl();
    }
  }

  #showControl() {
    this.control.hidden = !this.supported || Notification.permission !== 'default';
  }
}
