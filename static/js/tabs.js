// One stream per browser, shared by its tabs. Browsers allow 6 HTTP/1.1 connections per origin
// across all tabs: a stream per tab would stall the seventh tab and every API call. The tabs of
// one user elect a leader (Web Locks, or a localStorage lease where those are missing); only the
// leader holds GET /stream (stream.js), and it hands every event and signal to the other tabs on
// a BroadcastChannel. Each tab applies them with the same rules as stream.js: ids in order, each
// once, a gap is asked for again (here from the leader's recent events, or else a resync). A new
// leader opens the stream from the last id it applied, so the server replays what nobody heard.

import { EventStream, alreadyApplied, parseEventId } from './stream.js';

/** Events each tab keeps, so that whichever tab leads can fill another tab's gap. */
const KEPT_EVENTS = 1000;
/** A tab asks the leader again for what it lacks at most this often. */
const REPLAY_RETRY_MS = 1000;
/** The localStorage lease (browsers without Web Locks): renewed every beat, lost when stale. */
const LEASE_BEAT_MS = 1000;
const LEASE_MS = 3000;

function newTabId() {
  return crypto.randomUUID?.() ?? `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}

export class SharedStream {
  /**
   * The same options as EventStream (stream.js), and:
   * @param {string} options.key  one per user and site: the tabs that share a stream
   * @param {(kind: string, data: object) => void} [options.onMessage]  what other tabs `tell`
   */
  constructor({ key, url, cursor, onEvent, onResync, onStatus, onSignal, onMessage }) {
    Object.assign(this, { key, url, cursor, onEvent, onResync, onStatus, onSignal, onMessage });
    this.tab = newTabId();
    this.leading = false;
    this.stream = null;
    /** @type {{type: string, id: string, prev: string, data: object}[]} the last events applied */
    this.kept = [];
    this.status = 'connecting';
    this.failures = 0;
    this.askedAt = -Infinity;
    /** tab id → whether that tab is visible (this tab's own state is read from the document) */
    this.otherTabs = new Map();
    this.resign = null;
    this.abortElection = null;
    this.leaseTimer = null;
  }

  start() {
    if (typeof BroadcastChannel !== 'function') {
      this.#lead(() => {}); // no way to share: this tab holds its own stream, as before
      return;
    }
    this.channel = new BroadcastChannel(`parley-stream:${this.key}`);
    this.channel.addEventListener('message', (event) => this.#heard(event.data));
    this.onStatus('connecting', 0);
    this.#elect();
    this.#post({ kind: 'hello', visible: isVisible(), cursor: this.cursor });
    document.addEventListener('visibilitychange', () => this.#post({ kind: 'visible', visible: isVisible() }));
    // A closing, cached or frozen tab gives the stream up at once, so another tab takes it over.
    window.addEventListener('pagehide', () => this.#leave());
    document.addEventListener('freeze', () => this.#leave());
    // Back from the cache, unfrozen, or a page that left only the network: it takes part again.
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) this.#rejoin();
    });
    document.addEventListener('resume', () => this.#rejoin());
    window.addEventListener('online', () => this.#rejoin());
  }

  /** Whether any tab of this browser is on screen (known to every tab, each telling its own). */
  anyTabVisible() {
    return isVisible() || [...this.otherTabs.values()].some(Boolean);
  }

  /** Tell the other tabs something (they get it through `onMessage`). */
  tell(kind, data) {
    this.channel?.postMessage({ kind: 'app', from: this.tab, app: kind, data });
  }

  // --- leadership ----------------------------------------------------------------------------

  #elect() {
    if (navigator.locks?.request) {
      const abort = new AbortController();
      this.abortElection = abort;
      navigator.locks
        .request(`parley-stream:${this.key}`, { signal: abort.signal }, () => new Promise((release) => this.#lead(release)))
        .catch((error) => {
          if (error?.name === 'AbortError') return; // this tab left before its turn
          this.#withoutLocks(); // refused (a frame on another site's page may not take locks)
        });
    } else {
      this.#withoutLocks();
    }
  }

  /** The lease where Web Locks are missing or refused; where storage is refused too, this
   * tab holds its own stream, as it did before tabs shared one. */
  #withoutLocks() {
    try {
      localStorage.getItem('parley-stream-probe');
    } catch {
      this.#lead(() => {});
      return;
    }
    this.#beat();
  }

  /** Where Web Locks are missing: hold a lease in localStorage, renewed while this tab lives. */
  #beat() {
    const name = `parley-stream-lease:${this.key}`;
    let lease = null;
    try {
      lease = JSON.parse(localStorage.getItem(name) ?? 'null');
    } catch {
      lease = null;
    }
    const now = Date.now();
    // localStorage reaches other tabs late: two tabs may take a free lease at once, and each
    // then sees the other's. The smaller tab id keeps it, so exactly one steps down.
    const contested = this.leading && lease && lease.tab > this.tab;
    if (!lease || lease.tab === this.tab || lease.until < now || contested) {
      localStorage.setItem(name, JSON.stringify({ tab: this.tab, until: now + LEASE_MS }));
      if (!this.leading) this.#lead(() => localStorage.getItem(name)?.includes(this.tab) && localStorage.removeItem(name));
    } else if (this.leading) {
      this.#stepDown();
    }
    this.leaseTimer = setTimeout(() => this.#beat(), LEASE_BEAT_MS);
  }

  #lead(release) {
    this.leading = true;
    this.resign = release;
    this.stream = new EventStream({
      url: this.url,
      cursor: this.cursor,
      onEvent: (type, data, id, prev) => {
        this.#post({ kind: 'event', type, id, prev, data });
        this.#apply({ type, id, prev, data });
      },
      onResync: () => {
        this.#post({ kind: 'resync', cursor: this.stream.cursor });
        this.#resync(this.stream.cursor);
      },
      onStatus: (status, failures) => {
        this.status = status;
        this.failures = failures;
        this.#post({ kind: 'status', status, failures });
        this.onStatus(status, failures);
      },
      onSignal: this.onSignal
        ? (type, data) => {
            this.#post({ kind: 'signal', type, data });
            this.onSignal(type, data);
          }
        : undefined,
    });
    this.stream.start();
  }

  #stepDown() {
    this.leading = false;
    this.stream?.stop();
    this.stream = null;
    const release = this.resign;
    this.resign = null;
    release?.();
  }

  #leave() {
    this.#post({ kind: 'gone' });
    this.abortElection?.abort();
    this.abortElection = null;
    clearTimeout(this.leaseTimer);
    this.leaseTimer = null;
    if (this.leading) this.#stepDown();
  }

  #rejoin() {
    if (this.leading || this.abortElection || this.leaseTimer) return;
    if (!this.channel) {
      this.#lead(() => {});
      return;
    }
    this.#post({ kind: 'hello', visible: isVisible(), cursor: this.cursor });
    this.#elect();
  }

  // --- what the tabs say to each other -------------------------------------------------------

  #post(message) {
    this.channel?.postMessage({ ...message, from: this.tab });
  }

  #heard(message) {
    const { kind, from } = message ?? {};
    if (kind === 'hello') {
      this.otherTabs.set(from, Boolean(message.visible));
      this.#post({ kind: 'visible', visible: isVisible() });
      if (this.leading) {
        this.#post({ kind: 'status', status: this.status, failures: this.failures });
        this.#replay({ from, after: message.cursor }); // heard before that tab was listening
      }
    } else if (kind === 'visible') {
      this.otherTabs.set(from, Boolean(message.visible));
    } else if (kind === 'gone') {
      this.otherTabs.delete(from);
    } else if (kind === 'app') {
      this.onMessage?.(message.app, message.data);
    } else if (this.leading) {
      if (kind === 'replay') this.#replay(message);
    } else if (kind === 'event') {
      this.#receive(message);
    } else if (kind === 'signal') {
      this.onSignal?.(message.type, message.data);
    } else if (kind === 'status') {
      // With the failures: a stream that keeps failing (a session ended) is every tab's news.
      this.status = message.status;
      this.onStatus(message.status, Number(message.failures) || 0);
      // A new leader may have heard what the last one never passed on: ask once it is live.
      if (message.status === 'open') this.#post({ kind: 'replay', after: this.cursor });
    } else if (kind === 'resync' && (!message.to || message.to === this.tab)) {
      this.#resync(message.cursor);
    } else if (kind === 'replayed' && message.to === this.tab) {
      for (const event of message.events) this.#receive(event);
    }
  }

  /** An event from the leader: the gap check of stream.js, with the leader's word for `prev`. */
  #receive(event) {
    const next = parseEventId(event.id);
    const last = parseEventId(this.cursor);
    if (event.id === this.cursor || (next && last && alreadyApplied(next, last))) return;
    const follows = event.prev === this.cursor || !next || !last || (next.epoch === last.epoch && next.seq === last.seq + 1);
    if (follows) {
      this.#apply(event);
      return;
    }
    // A gap (this tab opened after the leader heard some events, or came back from the cache):
    // the leader sends what follows our cursor, or a resync when it no longer has it.
    const now = performance.now();
    if (now - this.askedAt < REPLAY_RETRY_MS) return;
    this.askedAt = now;
    this.#post({ kind: 'replay', after: this.cursor });
  }

  #replay({ from, after }) {
    if (typeof after !== 'string') return;
    const start = this.kept.findIndex((event) => event.prev === after);
    if (start >= 0) {
      this.#post({ kind: 'replayed', to: from, events: this.kept.slice(start) });
      return;
    }
    const mine = parseEventId(this.cursor);
    const theirs = parseEventId(after);
    if (after === this.cursor || (mine && theirs && alreadyApplied(mine, theirs))) return; // it is ahead: it waits
    this.#post({ kind: 'resync', to: from, cursor: this.cursor });
  }

  #apply(event) {
    if (event.id) this.cursor = event.id;
    this.kept.push(event);
    if (this.kept.length > KEPT_EVENTS) this.kept.splice(0, this.kept.length - KEPT_EVENTS);
    this.onEvent(event.type, event.data);
  }

  #resync(cursor) {
    this.cursor = cursor || this.cursor;
    this.kept = [];
    this.onResync();
  }
}

function isVisible() {
  return document.visibilityState === 'visible';
}
