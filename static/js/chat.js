// Parley's chat page. How a message travels:
//   views/composer.js (Enter) → ChatApp.send → api.js POST …/messages (shown "Sending…")
//   → server → stream.js (message_added on /stream) → ChatApp.applyEvent → state.js
//   → views/conversation-pane.js (now "Sent") and views/conversation-list.js (preview, unread).

import { Api, newClientId } from './api.js';
import { displayName, isGroup, isSmsAuthor, mediaLabel } from './format.js';
import { isNamed, nameOf, onNamesChanged } from './names.js';
import { Notifier } from './notifications.js';
import { ReadReceipts } from './read-receipts.js';
import { SavedText } from './saved.js';
import { ChatState } from './state.js';
import { SharedStream } from './tabs.js';
import { Banners } from './views/banners.js';
import { ComposerView } from './views/composer.js';
import { ConversationListView } from './views/conversation-list.js';
import { ConversationPaneView } from './views/conversation-pane.js';
import { GroupActions } from './views/group-actions.js';
import { GroupDialog } from './views/group-dialog.js';
import { MediaDialog } from './views/media-dialog.js';
import { MuteControl, applyMute, isMuted } from './views/mute.js';
import { NewConversationDialog } from './views/new-conversation.js';
import { PresenceView } from './views/presence.js';
import { SmsMembersView } from './views/sms-members.js';
import { TypingView } from './views/typing.js';

const byId = (id) => document.getElementById(id);
/** A new message is read out up to this many characters (a long one is on screen to read). */
const ANNOUNCED_MAX = 300;

class ChatApp {
  constructor(app) {
    const { identity, streamCursor, maxBody, maxFile, root = '', loginUrl, directory } = app.dataset;
    this.app = app;
    this.me = identity;
    this.root = root;
    this.initialCursor = streamCursor;
    this.api = new Api({ root, loginUrl });
    this.saved = new SavedText(identity);
    this.state = new ChatState(identity, this.saved);
    this.renderQueued = false;
    this.conversationsRequest = null;
    this.conversationsStale = false;
    /** Conversations whose people's names are being asked for (see #learnNamesIn). */
    this.namesAsked = new Set();
    onNamesChanged(() => this.render());

    this.banners = new Banners(byId('banners'));
    this.list = new ConversationListView({
      root: byId('sidebar'),
      me: identity,
      urlRoot: root,
      onOpen: (sid) => this.navigate(sid),
    });
    this.pane = new ConversationPaneView({
      root: byId('pane'),
      me: identity,
      onSeen: () => this.reads.noteSeen(),
      onLoadOlder: () => this.loadOlder(),
      onRetry: (clientId) => this.post(clientId),
      onBack: () => this.navigate(null),
      onEdit: (message, body) => this.edit(message, body),
      onDelete: (message) => this.remove(message),
      onDeliveryDetails: (message) => this.loadDeliveries(message),
      mediaUrl: (sid) => `${root}/api/media/${encodeURIComponent(sid)}`,
      onOpenMedia: (media, url, opener) => this.mediaDialog.open(media, url, opener),
    });
    this.mediaDialog = new MediaDialog(byId('media-dialog'));
    this.reads = new ReadReceipts({
      state: this.state,
      api: this.api,
      me: identity,
      newestOnScreen: () => this.pane.newestOnScreen(),
      onChange: () => this.render(),
      onRead: (sid, index) => this.stream.tell('read', { sid, index }),
    });
    this.groups = new GroupActions({
      root: byId('group-actions'),
      dialog: new GroupDialog(byId('group-dialog')),
      api: this.api,
      state: this.state,
      banners: this.banners,
      onChange: () => this.render(),
      onLeft: (sid) => {
        this.#forget(sid);
        this.navigate(null);
      },
    });
    this.smsMembers = new SmsMembersView({ root: byId('pane-sms'), onRemove: (number) => this.groups.removePhone(number) });
    this.notifier = new Notifier({
      control: byId('enable-notifications'),
      onOpen: (sid) => this.navigate(sid),
      isMuted: (sid) => isMuted(this.state.conversations.get(sid)),
      unseen: () => this.stream.leading && !this.stream.anyTabVisible(),
    });
    this.mute = new MuteControl({ root: byId('mute-control'), api: this.api, state: this.state, banners: this.banners, onChange: () => this.render() });
    this.composer = new ComposerView({
      root: byId('composer'),
      maxBody: Number(maxBody) || 1600,
      onSend: (sid, body) => this.send(sid, body),
      onSendFiles: (sid, body, files, progress) => this.sendFiles(sid, body, files, progress),
      maxFile: Number(maxFile) || 20 * 1024 * 1024,
      onDraft: (sid, text) => this.saved.setDraft(sid, text),
    });
    this.newConversation = new NewConversationDialog({
      root: byId('new-conversation-dialog'),
      opener: byId('new-conversation'),
      directory: directory !== 'off',
      search: (query, after) => this.api.searchUsers(query, after),
      start: (username) => this.groups.start([username]),
      startGroup: (name, usernames) => this.groups.start(usernames, name),
      onStarted: (conversation) => this.navigate(conversation.sid),
    });
  }

  start() {
    this.#startSignals();
    // Open the stream from the render-time cursor first: nothing after the render is missed,
    // and what REST also returns is deduplicated by sid.
    // One stream per browser: the tabs of this user share it (tabs.js).
    this.stream = new SharedStream({
      key: `${this.me}@${this.root}`,
      onMessage: (kind, data) => this.#fromOtherTab(kind, data),
      onSignal: (type, data) => this.applySignal(type, data),
      url: `${this.root}/stream`,
      cursor: this.initialCursor,
      onEvent: (type, data) => this.applyEvent(type, data),
      onResync: () => this.resync(),
      onStatus: (status, failures) => {
        this.banners.showConnection(status);
        if (status === 'open') this.presence.load(); // signals missed meanwhile are not replayed
        // A stream that keeps failing may mean the session ended (logged out elsewhere): any
        // API call then answers 401, which takes the user to the login page.
        if (failures >= 3) this.api.checkSession().catch(() => {});
      },
    });
    this.stream.start();
    this.loadConversations();
    this.show(this.app.dataset.conversationSid || null, { focus: true });
    window.addEventListener('online', () => this.resendUnsent());
    if (navigator.onLine) this.resendUnsent(); // what a reload found unsent

    window.addEventListener('popstate', () => this.show(this.#sidFromLocation()));
    document.addEventListener('visibilitychange', () => {
      this.state.pageVisible = document.visibilityState === 'visible';
      if (this.state.pageVisible) this.state.markRead(this.state.openSid);
      this.render();
    });
    this.state.pageVisible = document.visibilityState === 'visible';
  }

  // --- navigation ----------------------------------------------------------------------------

  /** Open a conversation (or none) as a new history entry: /c/<sid> or /. */
  navigate(sid) {
    if (sid !== this.state.openSid) {
      // The query string stays: inside a host's frame it is ?embed=1, the frame's layout.
      const path = sid ? `${this.root}/c/${encodeURIComponent(sid)}` : `${this.root}/`;
      history.pushState(null, '', path + window.location.search);
      this.show(sid, { focus: true });
    } else if (sid) {
      this.composer.focus();
    }
  }

  show(sid, { focus = false } = {}) {
    this.state.openConversation(sid);
    this.composer.open(sid, sid ? this.saved.draft(sid) : '');
    this.app.classList.toggle('chat--open', Boolean(sid));
    this.renderNow(); // the composer must be visible before it can take focus
    if (!sid) return;
    if (focus && window.matchMedia('(pointer: fine)').matches) this.composer.focus();
    this.loadHistory(sid);
  }

  #sidFromLocation() {
    const match = /\/c\/([^/]+)\/?$/.exec(window.location.pathname);
    return match ? decodeURIComponent(match[1]) : null;
  }

  // --- loading over REST ---------------------------------------------------------------------

  /** Load (or reload) the conversation list; calls made meanwhile coalesce into one more. */
  async loadConversations() {
    if (this.conversationsRequest) {
      this.conversationsStale = true;
      return this.conversationsRequest;
    }
    const startedAt = performance.now();
    this.conversationsRequest = this.api
      .listConversations()
      .then(({ conversations }) => this.state.replaceConversations(conversations, startedAt))
      .catch((error) => this.banners.showError(error.message))
      .finally(() => {
        this.conversationsRequest = null;
        this.render();
        if (this.conversationsStale) {
          this.conversationsStale = false;
          this.loadConversations();
        }
      });
    return this.conversationsRequest;
  }

  async loadHistory(sid) {
    try {
      const { messages, has_more: hasMore } = await this.api.listMessages(sid, { limit: 50 });
      this.state.addHistoryPage(sid, messages, hasMore);
    } catch (error) {
      if (error.status === 404 || error.status === 403) {
        this.state.setHistoryStatus(sid, 'not_found');
        this.#notFound(sid, error);
      } else {
        this.state.setHistoryStatus(sid, 'error');
        this.banners.showError(error.message);
      }
    }
    this.render();
  }

  async loadOlder() {
    const history = this.state.history;
    if (!history || history.loadingOlder || !history.hasMore) return;
    history.loadingOlder = true;
    this.render();
    try {
      const page = await this.api.listMessages(history.sid, { limit: 50, before: this.state.oldestIndex() });
      this.state.addHistoryPage(history.sid, page.messages, page.has_more, { older: true });
    } catch (error) {
      this.banners.showError(error.message);
    } finally {
      history.loadingOlder = false;
      this.render();
    }
  }

  /** The stream could not replay what we missed: start again from what the server has now. */
  resync() {
    this.loadConversations();
    if (this.state.openSid) {
      this.state.openConversation(this.state.openSid);
      this.render();
      this.loadHistory(this.state.openSid);
    }
  }

  // --- changing messages (everyone, this page included, sees it by stream event) --------------

  async edit(message, body) {
    try {
      const { message: edited } = await this.api.editMessage(message.conversation_sid, message.sid, body);
      this.state.replaceMessage(message.conversation_sid, edited);
      this.render();
    } catch (error) {
      this.banners.showError(`Your message was not changed: ${error.message}`);
    }
  }

  async remove(message) {
    try {
      await this.api.deleteMessage(message.conversation_sid, message.sid);
      this.state.replaceMessage(message.conversation_sid, message, { deleted: true });
      this.render();
    } catch (error) {
      this.banners.showError(`Your message was not deleted: ${error.message}`);
    }
  }

  /** A reloaded page knows only a message's delivery summary: ask for each phone's receipt. */
  async loadDeliveries(message) {
    try {
      const { deliveries } = await this.api.messageDeliveries(message.conversation_sid, message.sid);
      for (const delivery of deliveries) this.state.applyDelivery(delivery);
      this.render();
    } catch (error) {
      this.banners.showError(`Delivery to the phones could not be loaded: ${error.message}`);
    }
  }

  // --- sending -------------------------------------------------------------------------------

  /** `sid` is the conversation the text was typed in, whichever is open by the time it goes. */
  send(sid, body) {
    const clientId = newClientId();
    this.state.addPending(sid, body, clientId);
    this.typing.sent(sid);
    this.pane.scrollToBottomNextRender();
    this.post(clientId);
  }

  /**
   * Upload `files` one after the other (progress over all their bytes), then send them in one
   * message with `body` as caption. Rejects with the refusal's readable message; nothing is
   * sent unless every file went up.
   */
  async sendFiles(sid, body, files, progress) {
    const total = files.reduce((sum, file) => sum + file.size, 0) || 1;
    let done = 0;
    const mediaSids = [];
    progress(0);
    for (const file of files) {
      const media = await this.api.uploadMedia(sid, file, (loaded) => progress((done + loaded) / total));
      done += file.size;
      mediaSids.push(media.sid);
    }
    progress(1);
    const { message } = await this.api.sendMessage(sid, body, newClientId(), mediaSids);
    this.typing.sent(sid);
    this.pane.scrollToBottomNextRender();
    if (message) this.state.applyMessage(sid, message);
    this.render();
  }

  /** POST (or re-POST, same client_id) a pending message. It turns "Sent" on its stream event. */
  async post(clientId) {
    const pending = this.state.pending.get(clientId);
    if (!pending) return;
    this.state.setPendingStatus(clientId, 'sending');
    this.render();
    try {
      const { message } = await this.api.sendMessage(pending.conversationSid, pending.body, clientId);
      // The answer confirms it too: a resend the server had already stored gets no new event.
      if (message) this.state.applyMessage(pending.conversationSid, message);
      // Once nothing is left unsent, the "not sent" banner would only be stale news.
      if (![...this.state.pending.values()].some((p) => p.status === 'failed')) {
        this.banners.clearError('send');
      }
    } catch (error) {
      const retryable = error.status === 0 || error.status === 429 || error.status >= 500;
      this.state.setPendingStatus(clientId, 'failed', { error: error.message, retryable });
      this.banners.showError(`Your message was not sent: ${error.message}`, 'send');
      this.#notFound(pending.conversationSid, error);
    }
    this.render();
  }

  /** Send again, oldest first, what failed for a reason that passes (no network, a reload). */
  async resendUnsent() {
    if (this.resending) return;
    this.resending = true;
    try {
      for (const pending of this.state.retryablePending()) await this.post(pending.clientId);
    } finally {
      this.resending = false;
    }
  }

  /** This user read a conversation in another tab: its badge clears here too, at once. */
  #fromOtherTab(kind, data) {
    if (kind === 'read' && typeof data?.sid === 'string' && Number.isInteger(data.index)) {
      this.state.applyRead(data.sid, this.me, data.index);
      this.render();
    }
  }

  // --- typing and presence (stream signals: no id, never replayed) ---------------------------

  #startSignals() {
    this.typing = new TypingView({
      root: this.app,
      me: this.me,
      openSid: () => this.state.openSid,
      send: (sid) => this.api.sendTyping(sid),
      onChange: () => this.render(),
    });
    this.presence = new PresenceView({
      root: this.app,
      me: this.me,
      load: () => this.api.getPresence(),
      onChange: () => this.render(),
    });
  }

  applySignal(type, data) {
    if (type === 'typing') this.#learnNamesIn(data.conversation_sid, [data.identity]);
    if (type === 'typing') this.typing.received(data);
    else if (type === 'presence') this.presence.received(data);
  }

  // --- live events ---------------------------------------------------------------------------

  /** One event, in order, once. A type not handled here is ignored (its id was counted). */
  applyEvent(type, data) {
    const { state } = this;
    if (type === 'message_added') {
      const sid = data.conversation_sid ?? data.message.conversation_sid;
      const { known, isNew } = state.applyMessage(sid, data.message);
      this.#learnNamesIn(sid, [data.message.author]);
      this.typing.messageArrived(sid, data.message.author);
      if (!known) this.loadConversations();
      if (isNew && data.message.author !== this.me) this.#announceMessage(sid, data.message);
      if (isNew && data.message.author !== this.me) this.#notify(sid, data.message);
      // Parley moves the author's read horizon to the message they send (SMS authors have none).
      if (!isSmsAuthor(data.message.author)) state.applyRead(sid, data.message.author, data.message.index);
    } else if (type === 'message_updated' || type === 'message_removed') {
      state.replaceMessage(data.conversation_sid, data.message, { deleted: type === 'message_removed' });
    } else if (type === 'conversation_added') {
      state.upsertConversation(data.conversation);
      this.#learnNamesIn(data.conversation.sid, data.conversation.participants ?? []);
    } else if (type === 'conversation_updated') {
      if (!state.applyConversationUpdate(data)) this.loadConversations();
    } else if (type === 'conversation_removed') {
      this.#conversationRemoved(data.conversation_sid);
    } else if (type === 'conversation_muted') {
      if (!applyMute(state, data)) this.loadConversations();
    } else if (type === 'delivery_updated') {
      state.applyDelivery(data);
    } else if (type === 'participant_read') {
      this.#learnNamesIn(data.conversation_sid, [data.identity]);
      state.applyRead(data.conversation_sid, data.identity, data.last_read_message_index);
    } else if (type === 'participant_added' || type === 'participant_removed') {
      const groupName = state.conversations.get(data.conversation_sid)?.friendly_name;
      const outcome = state.applyParticipant(type, data.conversation_sid, data.participant);
      const { identity, added_by: adder, removed_by: remover } = data.participant;
      this.#learnNamesIn(data.conversation_sid, [identity, adder, remover]);
      if (outcome === 'left' && remover && remover !== this.me) {
        this.banners.showError(`${nameOf(remover)} removed you from ${groupName ?? 'a group'}.`);
      }
      if (outcome === 'unknown') this.loadConversations();
      if (outcome === 'left' && state.openSid === data.conversation_sid) state.setHistoryStatus(data.conversation_sid, 'not_found');
      if (outcome === 'applied') state.addNote(data.conversation_sid, this.#participantNote(type, data.participant));
    }
    this.render();
  }

  /**
   * Someone this page has no name for turned up on the stream (joined, wrote, typed, read): the
   * conversation's answer carries its people's names, so one request per conversation at a
   * time names them all. The stream's events stay free of names: a webhook fans out to many
   * people, and this happens only for newcomers.
   */
  #learnNamesIn(sid, identities) {
    const unknown = identities.filter((who) => who && who !== this.me && !isSmsAuthor(who) && !isNamed(who));
    if (!sid || !unknown.length || this.namesAsked.has(sid)) return;
    this.namesAsked.add(sid);
    this.api
      .getConversation(sid)
      .catch(() => {}) // not this user's any more: the names do not matter
      .finally(() => this.namesAsked.delete(sid));
  }

  /** Deleted in Twilio (its console, another backend): gone for everyone, messages too. */
  #conversationRemoved(sid) {
    const conversation = this.state.conversations.get(sid);
    this.#forget(sid);
    if (this.state.openSid === sid) this.state.setHistoryStatus(sid, 'removed');
    if (!conversation) return;
    const name = displayName(conversation, this.me);
    this.banners.announce(`The conversation ${isGroup(conversation) ? name : `with ${name}`} was deleted.`);
  }

  /** What a screen reader says for a new message: who, where (a group), and what. */
  #announceMessage(sid, message) {
    const conversation = this.state.conversations.get(sid);
    const where = conversation && isGroup(conversation) ? ` in ${displayName(conversation, this.me)}` : '';
    const body = message.body || mediaLabel(message.media);
    const said = body.length > ANNOUNCED_MAX ? `${body.slice(0, ANNOUNCED_MAX)}…` : body;
    this.banners.announce(`New message from ${nameOf(message.author)}${where}${said ? `: ${said}` : ''}`);
  }

  /**
   * The server answered that a conversation does not exist or is not this user's (deleted, or
   * left, while no stream event said so): it leaves the list as a removal would, and an open
   * pane says it was not found.
   */
  #notFound(sid, error) {
    if (error.status !== 404 || error.code !== 'not_found') return;
    this.#forget(sid);
    this.state.setHistoryStatus(sid, 'not_found');
  }

  /** A conversation this user can no longer write to: drop it with its draft and unsent messages. */
  #forget(sid) {
    this.state.forgetConversation(sid);
    this.saved.setDraft(sid, '');
  }

  /** "alice added carol", "You added carol", "carol joined", "bob left": worded when shown, so a
   * name learnt after the event still replaces the identity. */
  #participantNote(type, participant) {
    const who = (name) => (name === this.me ? 'You' : nameOf(name));
    return () => {
      const name = who(participant.identity ?? participant.address ?? 'Someone');
      if (type === 'participant_removed') {
        return participant.removed_by ? `${who(participant.removed_by)} removed ${name}` : `${name} left`;
      }
      return participant.added_by ? `${who(participant.added_by)} added ${name}` : `${name} joined`;
    };
  }

  // --- notifications -------------------------------------------------------------------------

  /** A browser notification when the tab is hidden (the Notifier checks that, and permission). */
  #notify(sid, message) {
    const conversation = this.state.conversations.get(sid);
    this.notifier.notify(message, conversation ? displayName(conversation, this.me) : null);
  }

  // --- rendering -----------------------------------------------------------------------------

  /** Render once after the current burst of changes (a microtask, so it also runs in a hidden tab). */
  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      if (this.renderQueued) this.renderNow();
    });
  }

  renderNow() {
    this.renderQueued = false;
    this.list.render(this.state);
    this.state.settleUnreadDivider();
    this.pane.render(this.state);
    this.typing.render(this.state);
    this.presence.render(this.state);
    const open = this.state.history ? this.state.conversations.get(this.state.history.sid) ?? null : null;
    this.groups.render(open);
    this.mute.render(open);
    this.smsMembers.render(open);
    const unread = this.state.totalUnread();
    document.title = unread ? `(${unread}) Parley` : 'Parley';
    this.reads.noteSeen();
  }
}

new ChatApp(byId('app')).start();
