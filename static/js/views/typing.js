// "bob is typing…" in the open conversation and in its list row. Twilio has no typing event
// for REST users, so the page tells Parley (POST …/typing, at most every SEND_EVERY_MS while the
// user types) and Parley relays a `typing` signal to the others' streams. Each indicator lasts
// SHOW_MS after its last signal, and goes at once when that person's message arrives.

import { elementsUnder, h, setText } from '../dom.js';
import { nameOf } from '../names.js';

export const SEND_EVERY_MS = 2500;
export const SHOW_MS = 5000;

/** "bob is typing…", "bob and carol are typing…", "Several people are typing…" */
export function typingText(names) {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}

export class TypingView {
  /**
   * @param {{root: HTMLElement, me: string, openSid: () => string|null,
   *          send: (sid: string) => Promise<unknown>, onChange: () => void}} options
   * `root` is the whole page (#app): the indicator shows in the pane and in the list's rows.
   */
  constructor({ root, me, openSid, send, onChange }) {
    const { line, list, input } = elementsUnder(root, { line: '#typing-indicator', list: '#conversation-list', input: '#composer-input' });
    Object.assign(this, { line, list, me, openSid, send, onChange });
    /** sid → Map(identity → expiry timer) */
    this.typing = new Map();
    /** sid → when this page last told the server its user is typing there */
    this.lastSent = new Map();
    input.addEventListener('input', () => {
      if (input.value.trim()) this.#typed();
    });
  }

  /** The user typed in the open conversation: tell the others, at most every SEND_EVERY_MS. */
  #typed() {
    const sid = this.openSid();
    if (!sid) return;
    const now = performance.now();
    if (now - (this.lastSent.get(sid) ?? -Infinity) < SEND_EVERY_MS) return;
    this.lastSent.set(sid, now);
    this.send(sid).catch(() => {}); // best effort: a lost typing signal only hides an indicator
  }

  /** The user sent a message: the next keystroke announces typing again at once. */
  sent(sid) {
    this.lastSent.delete(sid);
  }

  /** A `typing` signal from the stream. */
  received({ conversation_sid: sid, identity }) {
    if (!sid || !identity || identity === this.me) return;
    const people = this.typing.get(sid) ?? new Map();
    clearTimeout(people.get(identity));
    people.set(identity, setTimeout(() => this.#stop(sid, identity), SHOW_MS));
    this.typing.set(sid, people);
    this.onChange();
  }

  /** That person's message arrived: they are no longer typing it. */
  messageArrived(sid, author) {
    this.#stop(sid, author);
  }

  #stop(sid, identity) {
    const people = this.typing.get(sid);
    if (!people?.has(identity)) return;
    clearTimeout(people.get(identity));
    people.delete(identity);
    if (people.size === 0) this.typing.delete(sid);
    this.onChange();
  }

  textFor(sid) {
    return typingText([...(this.typing.get(sid)?.keys() ?? [])].map(nameOf).sort());
  }

  /** The pane's line under the history, and a line in each list row (shown instead of the preview). */
  render(state) {
    const openText = state.openSid ? this.textFor(state.openSid) : '';
    this.line.hidden = !openText;
    setText(this.line, openText);
    for (const link of this.list.querySelectorAll('a[data-sid]')) {
      const text = this.textFor(link.dataset.sid);
      let span = link.querySelector('.conversation__typing');
      if (!span && text) {
        span = h('span', { className: 'conversation__typing' });
        link.querySelector('.conversation__preview')?.after(span);
      }
      if (span) setText(span, text);
      link.classList.toggle('conversation--typing', Boolean(text));
    }
  }
}
