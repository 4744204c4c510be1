// Read receipts, both ways. Out: what this user has had on screen goes to the server as
// Twilio's LastReadMessageIndex, batched. In: "Seen" or "Seen by bob, carol" under this user's
// newest message that someone else has read (their horizons arrive as participant_read events).

import { isGroup } from './format.js';
import { nameOf } from './names.js';

/** Reads seen on screen go to the server this long after the last one, or at most this late. */
const READ_DEBOUNCE_MS = 400;
const READ_MAX_WAIT_MS = 2000;

export class ReadReceipts {
  /**
   * @param {{state: import('./state.js').ChatState, api: import('./api.js').Api, me: string,
   *          newestOnScreen: () => number|null, onChange: () => void}} options
   * `newestOnScreen()` is the newest message index on screen in the open conversation;
   * `onRead(sid, index)` hears each read the server took (the other tabs clear their badges).
   */
  constructor({ state, api, me, newestOnScreen, onChange, onRead = () => {} }) {
    Object.assign(this, { state, api, me, newestOnScreen, onChange, onRead });
    /** sid → the newest index this page told the server was read */
    this.readUpTo = new Map();
    /** sid → the newest index seen on screen and not yet told (sent in one batched call) */
    this.unsentReads = new Map();
    this.readTimer = null;
    this.readBatchStartedAt = 0;
  }

  /**
   * A message that has been on screen while the page was visible is read (not merely one in the
   * open conversation). Reads are batched: one call per burst of scrolling or arrivals.
   */
  noteSeen() {
    const { state } = this;
    const sid = state.openSid;
    if (!sid || !state.isViewing(sid) || state.history?.unreadFrom === undefined) return;
    const index = this.newestOnScreen();
    if (index === null || index <= Math.max(this.readUpTo.get(sid) ?? -1, state.myHorizon(sid))) return;
    if (index <= (this.unsentReads.get(sid) ?? -1)) return;
    this.unsentReads.set(sid, index);
    // Debounced, but never held back for longer than READ_MAX_WAIT_MS by a steady trickle.
    const now = performance.now();
    if (this.readTimer === null) this.readBatchStartedAt = now;
    clearTimeout(this.readTimer);
    const wait = Math.min(READ_DEBOUNCE_MS, READ_MAX_WAIT_MS - (now - this.readBatchStartedAt));
    this.readTimer = setTimeout(() => this.#flush(), Math.max(0, wait));
  }

  /** Tell the server (Twilio's LastReadMessageIndex) what was read, one call per conversation. */
  #flush() {
    this.readTimer = null;
    const reads = [...this.unsentReads];
    this.unsentReads.clear();
    for (const [sid, index] of reads) {
      if (index <= Math.max(this.readUpTo.get(sid) ?? -1, this.state.myHorizon(sid))) continue;
      const before = this.readUpTo.get(sid) ?? -1;
      this.readUpTo.set(sid, index);
      this.api
        .markRead(sid, index)
        .then(() => {
          this.state.applyRead(sid, this.me, index);
          this.onRead(sid, index);
          this.onChange();
        })
        .catch(() => {
          // Forget this attempt, so that the next render tries again.
          if (this.readUpTo.get(sid) === index) this.readUpTo.set(sid, before);
        });
    }
  }
}

/**
 * "Seen" (1:1) or "Seen by bob, carol" (group), and the message it goes under: the newest of
 * `me`'s messages (oldest first in `messages`) that another member has read; null if none.
 */
export function seenReceipt(conversation, messages, me) {
  const horizons = conversation?.read_horizons ?? {};
  const members = new Set(conversation?.participants ?? []);
  const others = Object.keys(horizons).filter((name) => name !== me && members.has(name));
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i];
    if (!message?.sid || message.author !== me || message.deleted) continue;
    const readers = others.filter((name) => horizons[name] >= message.index).map(nameOf).sort();
    if (!readers.length) continue;
    return { message, text: isGroup(conversation) ? `Seen by ${readers.join(', ')}` : 'Seen' };
  }
  return null;
}
