// GET /stream over EventSource, with the resume rules of docs/stream-resume.md:
// start from the page's render-time cursor, apply each event once, spot gaps by id, and on any
// break reopen with the last good id so the server replays what was missed (or says "resync").

const DATA_EVENTS = [
  'message_added',
  'delivery_updated',
  'message_updated',
  'message_removed',
  'conversation_added',
  'conversation_updated',
  'conversation_removed',
  'participant_added',
  'participant_removed',
  'participant_read',
  'conversation_muted',
];
// Typing and presence: ephemeral, without an id (they never move the cursor), never replayed.
const SIGNAL_EVENTS = ['typing', 'presence'];
const MAX_RETRY_DELAY_MS = 15000;
const GAP_RETRY_DELAY_MS = 2000; // when gaps repeat, don't hammer the server

/**
 * "<epoch>-<seq>.<tag>" → {epoch, seq, tag}, or null when the id has another shape. The tag
 * fingerprints the event, so one seq can be told from another event at that seq (a server
 * whose log went back); "<epoch>-<seq>" (no tag: seq 0, or an id from before tags) gives tag ''.
 */
export function parseEventId(id) {
  const match = /^([0-9A-Za-z]+)-(\d+)(?:\.([0-9A-Za-z]+))?$/.exec(id ?? '');
  return match ? { epoch: match[1], seq: Number(match[2]), tag: match[3] ?? '' } : null;
}

/** Whether `next` is an event the page already applied (`last` is the last one it did). */
export function alreadyApplied(next, last) {
  if (next.epoch !== last.epoch) return false;
  // At the last seq itself only the same event: another tag there is a log that went back.
  return next.seq < last.seq || (next.seq === last.seq && next.tag === last.tag);
}

export class EventStream {
  /**
   * @param {object} options
   * @param {string} options.url        the stream's URL, without query
   * @param {string} options.cursor     the id the page is up to date with (render-time cursor)
   * @param {(type: string, data: object, id: string, prev: string) => void} options.onEvent  one
   *        data event, in order, once; `prev` is the cursor it follows (other tabs chain on it)
   * @param {() => void} options.onResync   the server could not replay: reload state over REST
   * @param {(status: 'connecting'|'open'|'reconnecting', failures: number) => void} options.onStatus
   *        failures counts the connection errors since the stream was last open
   * @param {(type: string, data: object) => void} [options.onSignal]  typing/presence; asks for them
   */
  constructor({ url, cursor, onEvent, onResync, onStatus, onSignal }) {
    this.onSignal = onSignal;
    this.url = url;
    this.cursor = cursor;
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onStatus = onStatus;
    this.source = null;
    this.failures = 0;
    /** @type {number|null} when the server last asked us to wait before reconnecting */
    this.reconnectAfterMs = null;
    this.retryTimer = null;
    this.lastGapAt = -Infinity;
    /** @type {{from: string, to: string}|null} the last gap: from our cursor to the id heard */
    this.gap = null;
    /** the server said `resumed` on this connection: it replays everything after our cursor */
    this.resumed = false;
    this.stopped = false;
  }

  start() {
    this.onStatus('connecting', 0);
    this.#open();
    window.addEventListener('online', () => {
      if (this.source || this.stopped) return;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.#reopen(0);
    });
    // Leaving the page closes the stream; that is not an error worth a banner.
    window.addEventListener('pagehide', () => {
      this.source?.close();
      this.source = null;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    });
    window.addEventListener('pageshow', (event) => {
      if (event.persisted && !this.stopped) this.#reopen(0); // back from the back/forward cache
    });
  }

  /** Close for good: another tab holds the stream now (tabs.js). */
  stop() {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  #open() {
    this.retryTimer = null;
    if (this.stopped) return;
    const signals = this.onSignal ? '&signals=1' : '';
    const source = new EventSource(`${this.url}?cursor=${encodeURIComponent(this.cursor)}${signals}`);
    this.source = source;
    this.resumed = false;
    source.addEventListener('open', () => {
      this.failures = 0;
      this.onStatus('open', 0);
    });
    // Reopen ourselves rather than let the browser retry: its retry would resend the URL's old
    // cursor, and an EventSource that got a non-200 answer never retries at all.
    source.addEventListener('error', () => {
      this.failures += 1;
      // A worker that is shutting down says when to come back (its streams spread out, so
      // thousands of pages do not reconnect in the same second); otherwise our own back-off.
      const delay = this.reconnectAfterMs ?? this.#retryDelay();
      this.reconnectAfterMs = null;
      this.#reopen(delay);
    });
    source.addEventListener('reconnect', (event) => {
      const afterMs = parseJson(event.data)?.after_ms;
      if (Number.isFinite(afterMs)) this.reconnectAfterMs = Math.min(Math.max(afterMs, 0), 60000);
    });
    for (const type of DATA_EVENTS) {
      source.addEventListener(type, (event) => this.#receive(type, event));
    }
    for (const type of SIGNAL_EVENTS) {
      source.addEventListener(type, (event) => {
        const data = parseJson(event.data);
        if (data && this.onSignal) this.onSignal(type, data);
      });
    }
    source.addEventListener('resync', (event) => {
      this.cursor = event.lastEventId || parseJson(event.data)?.cursor || this.cursor;
      this.onResync();
    });
    // "resumed" says the replay is complete and correct: see #unheard.
    source.addEventListener('resumed', () => {
      this.resumed = true;
    });
  }

  /**
   * EventSource only hands over the event types it has listeners for, so an event of a type
   * this page does not know (a newer server) is invisible, and the next one looks like a gap.
   * When the server, resuming from our cursor, replays the same gap again, the ids in between
   * exist and are such events: step over them instead of reconnecting for ever.
   */
  #unheard(id) {
    const gap = this.gap;
    this.gap = null;
    return this.resumed && gap !== null && gap.from === this.cursor && gap.to === id;
  }

  #receive(type, event) {
    const id = event.lastEventId;
    const next = parseEventId(id);
    const last = parseEventId(this.cursor);
    if (next && last) {
      if (alreadyApplied(next, last)) return;
      if ((next.epoch !== last.epoch || next.seq !== last.seq + 1) && !this.#unheard(id)) {
        // A gap, or another event at our own seq: ask the server again from the last good id;
        // it replays, or resyncs if its log no longer holds that id's event.
        this.gap = { from: this.cursor, to: id };
        const now = performance.now();
        this.#reopen(now - this.lastGapAt < 5000 ? GAP_RETRY_DELAY_MS : 0);
        this.lastGapAt = now;
        return;
      }
    }
    const data = parseJson(event.data);
    const prev = this.cursor;
    if (id) this.cursor = id;
    if (data) this.onEvent(type, data, id, prev);
  }

  #reopen(delayMs) {
    if (this.stopped) return;
    this.source?.close();
    this.source = null;
    this.onStatus('reconnecting', this.failures);
    if (this.retryTimer === null) this.retryTimer = setTimeout(() => this.#open(), delayMs);
  }

  #retryDelay() {
    const base = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** Math.min(this.failures, 5));
    return base / 2 + Math.random() * (base / 2);
  }
}

export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
