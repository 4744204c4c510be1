// Muting the open conversation (for an hour, a day, or until turned off) from its header, and
// what a mute means to the rest of the page: no browser notification, a dimmed unread count, a
// mark in the list. The server keeps the mute per user; the user's other tabs and devices hear
// it as a `conversation_muted` event; a timed mute ends by itself at its `until`.

import { elementsUnder, h, setText } from '../dom.js';
import { shortTime } from '../format.js';

const CHOICES = { hour: 'for an hour', day: 'for a day', forever: 'until you turn it back on' };

/** Whether a conversation (as the API shapes it, with `mute`) is muted at `now`. */
export function isMuted(conversation, now = Date.now()) {
  const mute = conversation?.mute;
  if (!mute) return false;
  return mute.until === null || Date.parse(mute.until) > now;
}

/** "Muted until 15:30", "Muted" (no end): for the header and the list mark's tooltip. */
export function muteLabel(conversation) {
  const until = conversation?.mute?.until;
  return until ? `Muted until ${shortTime(until)}` : 'Muted';
}

/** The list's mark: a bell struck through (drawn, so no emoji font is needed), named "Muted". */
export function muteMark() {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', 'M8 2a4 4 0 0 0-4 4v3L2.5 11.5h11L12 9V6a4 4 0 0 0-4-4ZM6.5 13a1.5 1.5 0 0 0 3 0M2 2l12 12');
  svg.append(path);
  return h('span', { className: 'conversation__muted', hidden: true, attrs: { role: 'img', 'aria-label': 'Muted' } }, svg);
}

/** A `conversation_muted` event (or an API answer): returns false for an unknown sid. */
export function applyMute(state, { conversation_sid: sid, mute }) {
  const conversation = state.conversations.get(sid);
  if (!conversation) return false;
  conversation.mute = mute ?? null;
  return true;
}

export class MuteControl {
  /**
   * @param {{root: HTMLElement, api: import('../api.js').Api, state: import('../state.js').ChatState,
   *          banners: import('./banners.js').Banners, onChange: () => void}} options
   * `root` is the header's #mute-control: its button opens a menu of the choices.
   */
  constructor({ root, api, state, banners, onChange }) {
    Object.assign(this, { root, api, state, banners, onChange });
    this.els = elementsUnder(root, { button: '#mute-button', menu: '#mute-menu', status: '#mute-status', off: '#mute-off' });
    this.expiryTimer = null;
    this.els.button.addEventListener('click', () => this.#toggleMenu());
    this.els.menu.addEventListener('click', (event) => {
      const choice = event.target.closest('button[data-mute]');
      if (choice) this.#choose(choice.dataset.mute);
    });
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !this.els.menu.hidden) {
        event.stopPropagation();
        this.#closeMenu({ focus: true });
      }
    });
    document.addEventListener('click', (event) => {
      if (!root.contains(event.target)) this.#closeMenu();
    });
  }

  /** `conversation` is the open one, or null. Also re-renders the page when a mute runs out. */
  render(conversation) {
    this.root.hidden = !conversation;
    const muted = isMuted(conversation);
    const { button, status, off } = this.els;
    setText(button, muted ? 'Muted' : 'Mute');
    button.setAttribute('aria-label', muted ? `${muteLabel(conversation)}: change` : 'Mute this conversation');
    button.title = muted ? muteLabel(conversation) : '';
    button.classList.toggle('mute__button--on', muted);
    status.hidden = !muted;
    setText(status, muted ? muteLabel(conversation) : '');
    off.hidden = !muted;
    this.#wakeAtNextExpiry();
  }

  async #choose(choice) {
    const sid = this.state.openSid;
    this.#closeMenu({ focus: true });
    if (!sid) return;
    try {
      const answer = choice === 'off' ? await this.api.unmuteConversation(sid) : await this.api.muteConversation(sid, choice);
      applyMute(this.state, answer);
      const conversation = this.state.conversations.get(sid);
      this.banners.announce(choice === 'off' ? 'Unmuted.' : `Muted ${CHOICES[choice]}.`);
      if (conversation) this.onChange();
    } catch (error) {
      this.banners.showError(`The conversation's mute was not changed: ${error.message}`);
    }
  }

  #toggleMenu() {
    if (this.els.menu.hidden) {
      this.els.menu.hidden = false;
      this.els.button.setAttribute('aria-expanded', 'true');
      this.els.menu.querySelector('button:not([hidden])')?.focus();
    } else {
      this.#closeMenu();
    }
  }

  #closeMenu({ focus = false } = {}) {
    if (this.els.menu.hidden) return;
    this.els.menu.hidden = true;
    this.els.button.setAttribute('aria-expanded', 'false');
    if (focus) this.els.button.focus();
  }

  /** A timed mute ends by itself: render again when the next one does (marks, dimmed badge). */
  #wakeAtNextExpiry() {
    const now = Date.now();
    const ends = [...this.state.conversations.values()]
      .map((c) => (c.mute?.until ? Date.parse(c.mute.until) : NaN))
      .filter((t) => t > now);
    clearTimeout(this.expiryTimer);
    if (!ends.length) return;
    // setTimeout's delay is a 32-bit number of ms: a day fits, and a later wake re-arms.
    const delay = Math.min(Math.min(...ends) - now + 50, 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => this.onChange(), delay);
  }
}
