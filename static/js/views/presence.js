// Online/offline dots: on each 1:1 row of the list, and in the open conversation's header
// ("Online", or "2 online" in a group). The state comes from GET /api/presence, then from the
// stream's `presence` signals; it is reloaded whenever the stream (re)opens, since signals
// missed while disconnected are never replayed.

import { elementsUnder, h, setText } from '../dom.js';
import { isGroup, isSmsAuthor } from '../format.js';

/** Don't reload presence for a newly seen contact more often than this. */
const RELOAD_AT_MOST_EVERY_MS = 5000;

export class PresenceView {
  /**
   * @param {{root: HTMLElement, me: string, load: () => Promise<{presence: object}>, onChange: () => void}} options
   * `root` is the whole page (#app): the dots show in the list's rows and in the pane's header.
   */
  constructor({ root, me, load, onChange }) {
    const { list, header } = elementsUnder(root, { list: '#conversation-list', header: '#pane-presence' });
    Object.assign(this, { list, header, me, loadPresence: load, onChange });
    /** identity → true (online) / false (offline); absent: not known yet */
    this.online = new Map();
    this.loading = null;
    this.loadedAt = -Infinity;
    this.reloadTimer = null;
    /** contacts already asked about once: one not in the answer is not asked about again */
    this.asked = new Set();
  }

  /** Replace what is known with the server's view (stream opened, or a new contact appeared). */
  load() {
    if (this.loading) return this.loading;
    this.loadedAt = performance.now();
    this.loading = this.loadPresence()
      .then(({ presence }) => {
        this.online = new Map(Object.entries(presence ?? {}));
        this.onChange();
      })
      .catch(() => {}) // dots stay as they were; the next stream open retries
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /** A `presence` signal from the stream. */
  received({ identity, online }) {
    if (!identity || identity === this.me) return;
    this.online.set(identity, Boolean(online));
    this.onChange();
  }

  render(state) {
    let unknown = false;
    for (const link of this.list.querySelectorAll('a[data-sid]')) {
      const conversation = state.conversations.get(link.dataset.sid);
      const other = conversation && this.#otherOfPair(conversation);
      const online = other ? this.online.get(other) : undefined;
      if (other && online === undefined && !this.asked.has(other)) {
        this.asked.add(other);
        unknown = true;
      }
      let dot = link.querySelector('.presence');
      if (!dot && online !== undefined) {
        dot = h('span', { className: 'presence' }, h('span', { className: 'visually-hidden' }));
        link.querySelector('.avatar')?.after(dot);
      }
      if (dot) showDot(dot, online);
    }
    this.#renderHeader(state);
    if (unknown) this.#loadSoon();
  }

  /** Someone new appeared (a new conversation): ask the server, but not too often. */
  #loadSoon() {
    if (this.loading || this.reloadTimer) return;
    const wait = Math.max(0, this.loadedAt + RELOAD_AT_MOST_EVERY_MS - performance.now());
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      this.load();
    }, wait);
  }

  #renderHeader(state) {
    const conversation = state.openSid && state.conversations.get(state.openSid);
    let text = '';
    let online;
    if (conversation && !isGroup(conversation)) {
      const other = this.#otherOfPair(conversation);
      online = other ? this.online.get(other) : undefined;
      if (online !== undefined) text = online ? 'Online' : 'Offline';
    } else if (conversation) {
      const count = conversation.participants.filter((p) => p !== this.me && this.online.get(p)).length;
      online = count > 0;
      if (count) text = `${count} online`;
    }
    this.header.hidden = !text;
    this.header.dataset.presence = online ? 'online' : 'offline';
    setText(this.header, text);
  }

  /** The other person of a 1:1 with a chat user (an SMS number has no presence). */
  #otherOfPair(conversation) {
    if (isGroup(conversation)) return null;
    const other = (conversation.participants ?? []).find((name) => name !== this.me);
    return other && !isSmsAuthor(other) ? other : null;
  }
}

function showDot(dot, online) {
  dot.hidden = online === undefined;
  dot.dataset.presence = online ? 'online' : 'offline';
  setText(dot.firstChild, online ? ' online' : ' offline'); // read with the row's name
}
