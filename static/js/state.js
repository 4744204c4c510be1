// What the page knows: conversations, the open conversation's history, and messages on their
// way out. Every change is idempotent, because the stream's replay may overlap what REST returned.

export class ChatState {
  /** @param {import('./saved.js').SavedText} [saved] keeps messages not yet sent across reloads */
  constructor(me, saved) {
    this.me = me;
    this.saved = saved;
    /** @type {Map<string, object>} sid → Conversation (as the API shapes it) */
    this.conversations = new Map();
    this.conversationsLoaded = false;
    this.openSid = null;
    /** The open conversation's messages: {sid, messages: Map, hasMore, status, loadingOlder}. */
    this.history = null;
    /**
     * Messages on their way out, until their stream event (or the send's answer) confirms them.
     * `retryable`: the send failed for a reason that may pass (no network, a server error).
     * @type {Map<string, {clientId, conversationSid, body, status, error, retryable, createdAt}>}
     */
    this.pending = new Map();
    for (const unsent of saved?.unsent() ?? []) {
      this.pending.set(unsent.clientId, { ...unsent, status: 'failed', error: null, retryable: true });
    }
    this.pageVisible = true;
    /**
     * What each phone was told of a message, heard live (``delivery_updated``).
     * @type {Map<string, Map<string, {status: string, reason: string|null}>>} message sid → address →
     */
    this.deliveries = new Map();
  }

  /** A phone's receipt; a later "sent" never hides an earlier "delivered" (they may cross). */
  applyDelivery({ message_sid: messageSid, address, status, reason }) {
    if (!messageSid || !address) return;
    const RANK = { sent: 1, delivered: 2, read: 3, failed: 4, undelivered: 4 };
    const phones = this.deliveries.get(messageSid) ?? new Map();
    const known = phones.get(address);
    if (!known || (RANK[status] ?? 0) >= (RANK[known.status] ?? 0)) phones.set(address, { status, reason });
    this.deliveries.set(messageSid, phones);
  }

  // --- conversations -------------------------------------------------------------------------

  /** Most recent activity first. */
  sortedConversations() {
    return [...this.conversations.values()].sort((a, b) => timeOf(b.last_activity) - timeOf(a.last_activity));
  }

  totalUnread() {
    let total = 0;
    for (const conversation of this.conversations.values()) total += conversation.unread_count || 0;
    return total;
  }

  /** The user is looking at this conversation right now (so its messages are read). */
  isViewing(sid) {
    return sid === this.openSid && this.pageVisible;
  }

  /**
   * Take the server's list. `fetchedSince` is when the request left: a conversation that arrived
   * by stream event after that may be missing from the list only because the list is older.
   */
  replaceConversations(list, fetchedSince) {
    const next = new Map();
    for (const incoming of list) next.set(incoming.sid, this.#merge(this.conversations.get(incoming.sid), incoming));
    for (const [sid, local] of this.conversations) {
      if (!next.has(sid) && local.receivedAt > fetchedSince) next.set(sid, local);
    }
    this.conversations = next;
    this.conversationsLoaded = true;
  }

  /** A conversation from an event or a create call. */
  upsertConversation(incoming) {
    const merged = this.#merge(this.conversations.get(incoming.sid), incoming);
    merged.receivedAt = performance.now();
    this.conversations.set(incoming.sid, merged);
  }

  removeConversation(sid) {
    this.conversations.delete(sid);
  }

  /** The conversation no longer exists: what was on its way there has nowhere to go. */
  forgetConversation(sid) {
    this.removeConversation(sid);
    for (const pending of this.pendingFor(sid)) this.pending.delete(pending.clientId);
    this.#saveUnsent();
  }

  /** Keep whichever side has seen the later message; the local side may be ahead of a REST answer. */
  #merge(local, incoming) {
    const merged = { ...incoming, participants: [...(incoming.participants ?? [])] };
    const localIndex = local?.last_message?.index ?? -1;
    const incomingIndex = incoming.last_message?.index ?? -1;
    if (local && localIndex > incomingIndex) {
      merged.last_message = local.last_message;
      merged.last_activity = later(local.last_activity, incoming.last_activity);
      merged.unread_count = Math.max(local.unread_count || 0, incoming.unread_count || 0);
    }
    if (local?.receivedAt) merged.receivedAt = local.receivedAt;
    if (!('mute' in incoming)) merged.mute = local?.mute ?? null; // events carry no mute
    if (this.isViewing(incoming.sid)) merged.unread_count = 0;
    merged.read_horizons = laterHorizons(local?.read_horizons, incoming.read_horizons);
    return merged;
  }

  /**
   * A participant joined or left. Returns "unknown" (conversation not in the list), "left" (it
   * was this user, who is no longer in it), "unchanged" (already known) or "applied".
   */
  applyParticipant(type, conversationSid, participant) {
    const conversation = this.conversations.get(conversationSid);
    if (!conversation) return 'unknown';
    const name = participant?.identity ?? participant?.address;
    if (!name) return 'applied';
    const present = conversation.participants.includes(name);
    if (type === 'participant_added') {
      if (present) return 'unchanged';
      conversation.participants.push(name);
      return 'applied';
    }
    if (!present && name !== this.me) return 'unchanged';
    conversation.participants = conversation.participants.filter((p) => p !== name);
    if (name === this.me) {
      this.removeConversation(conversationSid);
      return 'left';
    }
    return 'applied';
  }

  /** A rename (conversation_updated). Returns false when the conversation is not in the list. */
  applyConversationUpdate({ conversation_sid: sid, friendly_name: friendlyName, unique_name: uniqueName }) {
    const conversation = this.conversations.get(sid);
    if (!conversation) return false;
    Object.assign(conversation, { friendly_name: friendlyName ?? null, unique_name: uniqueName ?? null });
    return true;
  }

  /** A line such as "alice added carol" under the open conversation's newest message. */
  /** `text`: a string, or a function that words it when shown (names may arrive later). */
  addNote(conversationSid, text) {
    const history = this.history;
    if (history?.sid !== conversationSid) return;
    const after = this.orderedMessages().at(-1)?.index ?? -1;
    history.notes.push({ key: `n:${history.notes.length}`, text, after });
  }

  // --- messages ------------------------------------------------------------------------------

  /**
   * A message arrived on the stream. Returns {known: is its conversation in the list, isNew:
   * had this page not seen it before}. It confirms the pending message with the same client_id.
   */
  applyMessage(conversationSid, message) {
    const conversation = this.conversations.get(conversationSid);
    const inHistory = this.history?.sid === conversationSid;
    const seen =
      (inHistory && this.history.messages.has(message.sid)) ||
      (conversation?.last_message && message.index <= conversation.last_message.index);

    if (conversation && !(conversation.last_message && message.index <= conversation.last_message.index)) {
      conversation.last_message = message;
      conversation.last_activity = later(conversation.last_activity, message.date_created);
      if (message.author !== this.me && !this.isViewing(conversationSid)) {
        conversation.unread_count = (conversation.unread_count || 0) + 1;
      }
    }
    if (inHistory) this.history.messages.set(message.sid, message);
    this.#confirmPending(message);
    return { known: Boolean(conversation), isNew: !seen };
  }

  /**
   * A message was edited (message_updated) or deleted (message_removed): change it where it is
   * shown. A deleted message stays in place, marked deleted, until the history is reloaded.
   */
  replaceMessage(conversationSid, message, { deleted = false } = {}) {
    const changed = deleted ? { ...message, deleted: true } : message;
    const conversation = this.conversations.get(conversationSid);
    if (conversation?.last_message?.sid === message.sid) conversation.last_message = changed;
    if (this.history?.sid === conversationSid && this.history.messages.has(message.sid)) {
      this.history.messages.set(message.sid, changed);
    }
  }

  /** Open a conversation (or none): its history starts empty and loading. */
  openConversation(sid) {
    this.openSid = sid;
    this.history = sid
      ? { sid, messages: new Map(), notes: [], hasMore: false, status: 'loading', loadingOlder: false }
      : null;
    this.markRead(sid);
  }

  markRead(sid) {
    const conversation = sid && this.conversations.get(sid);
    if (conversation) conversation.unread_count = 0;
  }

  /** A page of history from REST; `older` pages come from "Load older messages". */
  addHistoryPage(sid, messages, hasMore, { older = false } = {}) {
    const history = this.history;
    if (history?.sid !== sid || history.status === 'removed') return;
    for (const message of messages) {
      history.messages.set(message.sid, message);
      this.#confirmPending(message);
    }
    if (older || history.status === 'loading') history.hasMore = Boolean(hasMore);
    history.status = 'ready';
  }

  /** A deleted conversation stays 'removed': a history request still on its way changes nothing. */
  setHistoryStatus(sid, status) {
    if (this.history?.sid === sid && this.history.status !== 'removed') this.history.status = status;
  }

  /** The open conversation's messages, oldest first. */
  orderedMessages() {
    if (!this.history) return [];
    return [...this.history.messages.values()].sort((a, b) => a.index - b.index);
  }

  oldestIndex() {
    const messages = this.orderedMessages();
    return messages.length ? messages[0].index : undefined;
  }

  // --- read state (receipts, the "New messages" divider) --------------------------------------

  /**
   * `identity` has read up to message `index` (a `participant_read` event, one's own read, or
   * a message they wrote). Horizons only move forward. One's own horizon, moved on another
   * device, also lowers this conversation's unread count. Returns false for an unknown sid.
   */
  applyRead(conversationSid, identity, index) {
    const conversation = this.conversations.get(conversationSid);
    if (!conversation || !identity || !Number.isInteger(index)) return false;
    const horizons = { ...(conversation.read_horizons ?? {}) };
    if ((horizons[identity] ?? -1) >= index) return true;
    horizons[identity] = index;
    conversation.read_horizons = horizons;
    const last = conversation.last_message?.index;
    if (identity === this.me && last !== undefined) {
      conversation.unread_count = Math.min(conversation.unread_count || 0, Math.max(0, last - index));
    }
    return true;
  }

  /** How far this user has read in a conversation (-1: nothing yet). */
  myHorizon(conversationSid) {
    return this.conversations.get(conversationSid)?.read_horizons?.[this.me] ?? -1;
  }

  /**
   * Fix, once per opening, where the "New messages" divider goes: the first message after this
   * user's read horizon as it was on opening. It needs both the history and the conversation.
   */
  settleUnreadDivider() {
    const history = this.history;
    if (!history || history.unreadFrom !== undefined || history.status !== 'ready') return;
    if (!this.conversations.has(history.sid)) return;
    const from = this.myHorizon(history.sid) + 1;
    const unread = this.orderedMessages().some((message) => message.index >= from && message.author !== this.me);
    history.unreadFrom = unread ? from : null; // null: opened with nothing unread, no divider
  }

  // --- outgoing messages ---------------------------------------------------------------------

  addPending(conversationSid, body, clientId) {
    this.pending.set(clientId, {
      clientId,
      conversationSid,
      body,
      status: 'sending',
      error: null,
      retryable: false,
      createdAt: Date.now(),
    });
    this.#saveUnsent();
  }

  setPendingStatus(clientId, status, { error = null, retryable = false } = {}) {
    const pending = this.pending.get(clientId);
    if (pending) Object.assign(pending, { status, error, retryable });
  }

  /** Failed sends worth trying again by themselves (the network is back), oldest first. */
  retryablePending() {
    return [...this.pending.values()]
      .filter((p) => p.status === 'failed' && p.retryable)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  pendingFor(conversationSid) {
    return [...this.pending.values()]
      .filter((p) => p.conversationSid === conversationSid)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  #confirmPending(message) {
    const clientId = message.attributes?.client_id;
    if (clientId && this.pending.delete(clientId)) this.#saveUnsent();
  }

  #saveUnsent() {
    this.saved?.setUnsent([...this.pending.values()]);
  }
}

function timeOf(iso) {
  const time = Date.parse(iso ?? '');
  return Number.isNaN(time) ? 0 : time;
}

/** Two {identity: index} maps of read horizons, keeping the further one for each person. */
function laterHorizons(local, incoming) {
  const merged = { ...(local ?? {}) };
  for (const [identity, index] of Object.entries(incoming ?? {})) {
    merged[identity] = Math.max(merged[identity] ?? -1, index);
  }
  return merged;
}

function later(a, b) {
  return timeOf(a) >= timeOf(b) ? a : b;
}
