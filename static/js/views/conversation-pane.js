// The main pane: the open conversation's header and its history, oldest at the top.

import { elementsUnder, h, reconcile, setText } from '../dom.js';
import { nameOf } from '../names.js';
import {
  DELETED_TEXT,
  displayName,
  fileSize,
  isInlineImage,
  fullTime,
  isGroup,
  isSmsAuthor,
  isWhatsAppAuthor,
  memberList,
  setLinkedText,
  shortTime,
} from '../format.js';
import { seenReceipt } from '../read-receipts.js';

const BOTTOM_SLACK_PX = 48; // "at the bottom" within this distance
const LOAD_OLDER_PX = 200; // scrolled this close to the top: load the previous page
const STATUS_TEXT = { sending: 'Sending…', failed: 'Failed', sent: 'Sent' };
const DELIVERY_TEXT = { sent: 'Sent', delivered: 'Delivered', read: 'Read' };

export class ConversationPaneView {
  /** `root` is the pane (#pane); onEdit(message, body) and onDelete(message) change one's own message. */
  constructor({ root, me, onSeen, onLoadOlder, onRetry, onBack, onEdit, onDelete, onDeliveryDetails, mediaUrl, onOpenMedia }) {
    const els = elementsUnder(root, {
      empty: '#pane-empty',
      notFound: '#pane-not-found',
      notFoundHome: '#not-found-home',
      removed: '#pane-removed',
      removedHome: '#removed-home',
      conversation: '#pane-conversation',
      back: '#back-to-list',
      title: '#pane-title',
      subtitle: '#pane-subtitle',
      history: '#history',
      loadOlder: '#load-older',
      historyStatus: '#history-status',
      messages: '#messages',
      jumpLatest: '#jump-latest',
    });
    this.els = els;
    this.me = me;
    /** The sid of the message being edited in place, if any. */
    this.editingSid = null;
    this.onEdit = onEdit;
    this.onDelete = onDelete;
    this.onDeliveryDetails = onDeliveryDetails;
    /** Messages whose per-phone receipts were asked for (once each; live receipts add to them). */
    this.deliveriesAsked = new Set();
    this.mediaUrl = mediaUrl;
    this.onOpenMedia = onOpenMedia;
    this.renderedSid = null;
    this.renderedStatus = null;
    this.forceBottom = false;
    els.loadOlder.addEventListener('click', onLoadOlder);
    els.back.addEventListener('click', onBack);
    for (const home of [els.notFoundHome, els.removedHome]) {
      home.addEventListener('click', (event) => {
        event.preventDefault();
        onBack();
      });
    }
    els.messages.addEventListener('click', (event) => {
      const retry = event.target.closest('button[data-retry]');
      if (retry) onRetry(retry.dataset.retry);
      const details = event.target.closest('button[data-deliveries]');
      if (details) this.#askDeliveries(details.closest('.message')?.message);
    });
    this.#watchHistory(onSeen, onLoadOlder);
  }

  /** Scroll to the newest message at the next render (after the user sends). */
  scrollToBottomNextRender() {
    this.forceBottom = true;
  }

  render(state) {
    const { els } = this;
    const history = state.history;
    const status = history?.status;
    els.empty.hidden = Boolean(history);
    const gone = status === 'not_found' || status === 'removed';
    els.notFound.hidden = status !== 'not_found';
    els.removed.hidden = status !== 'removed';
    els.conversation.hidden = !history || gone;
    if (!history || gone) {
      this.renderedSid = history?.sid ?? null;
      return;
    }

    const conversation = state.conversations.get(history.sid);
    setText(els.title, conversation ? displayName(conversation, this.me) : 'Conversation');
    const subtitle = conversation && isGroup(conversation) ? memberList(conversation, this.me) : '';
    els.subtitle.hidden = !subtitle;
    setText(els.subtitle, subtitle);
    els.title.title = els.title.textContent; // the full name and member list, when cut short
    els.subtitle.title = subtitle;

    els.loadOlder.hidden = !history.hasMore || status !== 'ready';
    els.loadOlder.disabled = history.loadingOlder;
    setText(els.loadOlder, history.loadingOlder ? 'Loading older messages…' : 'Load older messages');
    // A new conversation says so, rather than showing an empty grey page.
    const empty =
      status === 'ready' &&
      !history.hasMore &&
      !history.notes.length &&
      !state.orderedMessages().length &&
      !state.pendingFor(history.sid).length;
    const statusText =
      status === 'loading'
        ? 'Loading messages…'
        : status === 'error'
          ? 'Messages could not be loaded.'
          : empty
            ? 'No messages yet. Say hello!'
            : '';
    els.historyStatus.hidden = !statusText;
    els.historyStatus.classList.toggle('history__status--empty', empty);
    setText(els.historyStatus, statusText);

    this.#renderMessages(state, history);
    this.#afterMessages(state, history);
  }

  #renderMessages(state, history) {
    const scroller = this.els.history;
    const switched = this.renderedSid !== history.sid;
    const justLoaded = this.renderedStatus === 'loading' && history.status === 'ready';
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < BOTTOM_SLACK_PX;
    const anchor = this.els.messages.firstElementChild;
    const anchorTop = anchor?.offsetTop ?? 0;

    const messages = state.orderedMessages().map((message) => ({
      message,
      status: message.author === this.me && !message.deleted ? 'sent' : null,
      deliveries: state.deliveries.get(message.sid),
    }));
    // A note ("alice added carol") goes after the newest message of when it happened.
    for (const note of history.notes) {
      const at = messages.findIndex((item) => item.message && item.message.index > note.after);
      messages.splice(at === -1 ? messages.length : at, 0, { note, key: note.key });
    }
    this.#placeDivider(messages, history);
    const receipt = seenReceipt(
      state.conversations.get(history.sid),
      messages.map((item) => item.message),
      this.me,
    );
    if (receipt) messages.find((item) => item.message === receipt.message).receipt = receipt.text;
    const items = [
      ...messages,
      ...state.pendingFor(history.sid).map((pending) => ({
        message: { author: this.me, body: pending.body, attributes: { client_id: pending.clientId }, date_created: new Date(pending.createdAt).toISOString() },
        status: pending.status,
        clientId: pending.clientId,
        error: pending.error,
      })),
    ];

    const lastOwn = items.findLast((item) => item.status);
    for (const item of items) item.settled = item.status === 'sent' && item !== lastOwn;

    // A sent message keeps the element it had while "Sending…" (keyed by client_id), so it
    // changes in place; a client_id seen twice (a retry stored twice) falls back to the sid.
    const used = new Set();
    for (const item of items) {
      if (item.note || item.divider) continue;
      const clientId = item.message.attributes?.client_id;
      item.key = clientId && !used.has(clientId) ? `c:${clientId}` : `s:${item.message.sid}`;
      if (clientId) used.add(clientId);
    }

    reconcile(
      this.els.messages,
      items,
      (item) => item.key,
      (item) => (item.note ? h('li', { className: 'message-note' }) : item.divider ? this.#createDivider() : this.#createMessage()),
      (el, item) => (item.note ? setText(el, noteText(item.note)) : item.divider ? null : this.#updateMessage(el, item)),
    );

    // Opened with unread messages, the view starts at the first of them, not at the bottom.
    if (this.#scrollToDivider(history)) {
      // placed
    } else if (switched || justLoaded || this.forceBottom || atBottom) {
      scroller.scrollTop = scroller.scrollHeight;
    } else if (anchor?.isConnected) {
      scroller.scrollTop += anchor.offsetTop - anchorTop; // older messages went in above: stay put
    }
    this.forceBottom = false;
    this.renderedSid = history.sid;
    this.renderedStatus = history.status;
  }

  #createMessage() {
    const parts = {
      author: h('span', { className: 'message__author' }),
      sms: h('span', { className: 'badge badge--sms', title: 'Sent by text message' }, 'SMS'),
      time: h('time', { className: 'message__time' }),
      body: h('p', { className: 'message__body' }),
      media: h('ul', { className: 'message__media' }),
      statusText: h('span', { className: 'message__status-text' }),
      retry: h('button', { type: 'button', className: 'button button--small button--quiet message__retry' }, 'Retry'),
      edited: h('span', { className: 'message__edited' }, '(edited)'),
      edit: h('button', { type: 'button', className: 'button button--small button--quiet' }, 'Edit'),
      delete: h('button', { type: 'button', className: 'button button--small button--quiet' }, 'Delete'),
      editInput: h('textarea', { className: 'message__edit-input', rows: 2, attrs: { 'aria-label': 'Edit message' } }),
      save: h('button', { type: 'submit', className: 'button button--small button--primary' }, 'Save'),
      cancel: h('button', { type: 'button', className: 'button button--small button--quiet' }, 'Cancel'),
      receipt: h('p', { className: 'message__receipt' }),
      delivery: h('ul', { className: 'delivery', attrs: { 'aria-label': 'Delivery to phones' } }),
      whatsapp: h('span', { className: 'badge badge--sms badge--whatsapp', title: 'Sent by WhatsApp' }, 'WhatsApp'),
    };
    parts.status = h('p', { className: 'message__status' }, parts.statusText, parts.retry);
    // Edit and Delete sit in the meta line (shown on hover or focus where there is a mouse):
    // a row of buttons under every own message would crowd the history.
    parts.actions = h('span', { className: 'message__actions' }, parts.edit, parts.delete);
    parts.editForm = h('form', { className: 'message__edit' }, parts.editInput, parts.save, parts.cancel);
    const el = h(
      'li',
      { className: 'message' },
      h('p', { className: 'message__meta' }, parts.author, parts.sms, parts.whatsapp, parts.time, parts.edited, parts.actions),
      h('div', { className: 'message__bubble' }, parts.body, parts.media),
      parts.editForm,
      parts.status,
      parts.delivery,
      parts.receipt,
    );
    el.parts = parts;
    parts.edit.addEventListener('click', () => {
      this.editingSid = el.message.sid;
      parts.editInput.value = el.message.body ?? '';
      this.#showEditing(el);
      parts.editInput.focus();
    });
    parts.cancel.addEventListener('click', () => this.#stopEditing(el));
    parts.editInput.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.#stopEditing(el);
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        parts.editForm.requestSubmit();
      }
    });
    parts.editForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = parts.editInput.value.trim();
      if (!body) return;
      if (body !== el.message.body) this.onEdit(el.message, body);
      this.#stopEditing(el);
    });
    parts.delete.addEventListener('click', () => {
      if (window.confirm('Delete this message for everyone?')) this.onDelete(el.message);
    });
    return el;
  }

  #stopEditing(el) {
    this.editingSid = null;
    this.#showEditing(el);
    el.parts.edit.focus();
  }

  #showEditing(el) {
    const editing = Boolean(el.message?.sid) && el.message.sid === this.editingSid;
    el.parts.editForm.hidden = !editing;
    el.querySelector('.message__bubble').hidden = editing;
    el.parts.actions.hidden = editing || !el.canChange;
  }

  #updateMessage(el, item) {
    const { parts } = el;
    const { message, status } = item;
    const own = message.author === this.me;
    el.classList.toggle('message--own', own);
    el.classList.toggle('message--settled', item.settled);
    el.dataset.status = status ?? '';
    setText(parts.author, own ? 'You' : nameOf(message.author));
    const whatsapp = message.source === 'WHATSAPP' || isWhatsAppAuthor(message.author);
    parts.sms.hidden = whatsapp || !(isSmsAuthor(message.author) || message.source === 'SMS');
    parts.whatsapp.hidden = !whatsapp;
    this.#updateDelivery(parts.delivery, item.deliveries, message);
    setText(parts.time, shortTime(message.date_created));
    parts.time.dateTime = message.date_created;
    parts.time.title = fullTime(message.date_created);
    const deleted = Boolean(message.deleted);
    el.classList.toggle('message--deleted', deleted);
    setLinkedText(parts.body, deleted ? DELETED_TEXT : message.body ?? ''); // links made safely
    parts.body.hidden = !deleted && !message.body && Boolean(message.media?.length);
    this.#updateMedia(el, deleted ? [] : message.media ?? []);
    parts.edited.hidden = !message.edited || deleted;
    el.message = message;
    el.canChange = own && Boolean(message.sid) && !deleted;
    this.#showEditing(el);

    parts.status.hidden = !status;
    setText(parts.statusText, STATUS_TEXT[status] ?? '');
    parts.status.title = item.error ?? '';
    parts.retry.hidden = status !== 'failed';
    if (item.clientId) parts.retry.dataset.retry = item.clientId;
    this.#updateReceipt(el, item);
  }

  /** Under a message to a group with phones: "+1555…: Delivered", or "Not delivered" and why. */
  /** Ask once for a message's per-phone receipts (they then arrive as live ones do). */
  #askDeliveries(message) {
    if (!message?.sid || this.deliveriesAsked.has(message.sid)) return;
    this.deliveriesAsked.add(message.sid);
    this.onDeliveryDetails?.(message);
  }

  #updateDelivery(list, deliveries, message) {
    const summary = message.delivery;
    const lines = [...(deliveries ?? new Map())].map(([address, { status, reason }]) => {
      const failed = status === 'failed' || status === 'undelivered';
      const text = failed ? `Not delivered${reason ? `: ${reason}` : ''}` : DELIVERY_TEXT[status] ?? status;
      return h('li', { className: failed ? 'delivery--failed' : '' }, `${address}: ${text}`);
    });
    // Loaded from history, with no receipt heard live: Twilio's summary over all the phones, a
    // button that asks for each phone's receipt (asked at once when some phone did not get it).
    if (!lines.length && summary?.total) {
      const failed = [summary.failed, summary.undelivered].find((part) => part && part !== 'none');
      const text = failed
        ? `Not delivered to ${failed === 'all' ? 'the phones' : 'some phones'}`
        : DELIVERY_TEXT[['read', 'delivered', 'sent'].find((status) => summary[status] === 'all')] ?? '';
      const details = h(
        'button',
        { type: 'button', className: 'delivery__details', title: 'Show each phone', dataset: { deliveries: '' } },
        text || 'Delivery to phones',
      );
      lines.push(h('li', { className: failed ? 'delivery--failed' : '' }, details));
      if (failed) queueMicrotask(() => this.#askDeliveries(message));
    }
    const key = lines.map((line) => line.textContent).join('\n');
    if (list.dataset.shown === key) return;
    list.dataset.shown = key;
    list.replaceChildren(...lines);
    list.hidden = lines.length === 0;
  }

  /** Photos as thumbnails that open full size; other files as a card that downloads. */
  #updateMedia(el, media) {
    const key = media.map((m) => m.sid).join(',');
    if (el.mediaKey === key) return;
    el.mediaKey = key;
    el.parts.media.replaceChildren(
      ...media.map((m) => {
        const url = this.mediaUrl(m.sid);
        const name = m.filename || (isInlineImage(m.content_type) ? 'Photo' : 'File');
        if (isInlineImage(m.content_type)) {
          const thumb = h(
            'button',
            { type: 'button', className: 'media-thumb', attrs: { 'aria-label': `Open ${name} full size` } },
            h('img', { src: url, alt: name, loading: 'lazy' }),
          );
          thumb.addEventListener('click', () => this.onOpenMedia(m, url, thumb));
          return h('li', {}, thumb);
        }
        return h(
          'li',
          {},
          h(
            'a',
            { className: 'file-card', href: url, attrs: { download: m.filename || '', 'aria-label': `Download ${name}, ${fileSize(m.size)}` } },
            h('span', { className: 'file-card__name' }, name),
            h('span', { className: 'file-card__meta' }, `${fileSize(m.size)} · ${m.content_type}`),
          ),
        );
      }),
    );
  }

  // --- history: what is on screen (read), older pages on scroll, "New messages", receipts ---

  /** Watch which messages are on screen (they count as read) and where the view is scrolled. */
  #watchHistory(onSeen, onLoadOlder) {
    const { history: scroller, jumpLatest } = this.els;
    /** Message elements at least half on screen (or filling half of it): read, if the page is visible. */
    this.onScreen = new Set();
    this.observed = new WeakSet();
    this.observedSid = null;
    /** The newest message index that has been on screen in this conversation. */
    this.newestSeen = -1;
    this.othersIndexes = [];
    this.canLoadOlder = false;
    this.dividerShownFor = null;
    this.observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const half = (entry.rootBounds?.height ?? Infinity) / 2;
          const shown = entry.isIntersecting && (entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= half);
          if (shown && entry.target.isConnected) this.onScreen.add(entry.target);
          else this.onScreen.delete(entry.target);
        }
        this.newestSeen = Math.max(this.newestSeen, this.newestOnScreen() ?? -1);
        this.#updateJump();
        onSeen();
      },
      { root: scroller, threshold: [0, 0.5, 1] },
    );
    scroller.addEventListener(
      'scroll',
      () => {
        this.#updateJump();
        if (scroller.scrollTop < LOAD_OLDER_PX && this.canLoadOlder) onLoadOlder();
      },
      { passive: true },
    );
    jumpLatest.addEventListener('click', () => {
      scroller.scrollTop = scroller.scrollHeight;
      scroller.focus({ preventScroll: true }); // the button hides; keep keyboard focus nearby
    });
  }

  /** The newest message (by index) on screen now, or null. */
  newestOnScreen() {
    let newest = null;
    for (const el of this.onScreen) {
      if (!el.isConnected || !el.message?.sid) continue;
      if (newest === null || el.message.index > newest) newest = el.message.index;
    }
    return newest;
  }

  #afterMessages(state, history) {
    if (this.observedSid !== history.sid) {
      this.observer.disconnect();
      this.onScreen.clear();
      this.observed = new WeakSet();
      this.observedSid = history.sid;
      this.newestSeen = -1;
    }
    for (const el of this.els.messages.children) {
      if (el.message?.sid && !this.observed.has(el)) {
        this.observer.observe(el);
        this.observed.add(el);
      }
    }
    this.othersIndexes = state
      .orderedMessages()
      .filter((message) => message.author !== this.me)
      .map((message) => message.index);
    this.canLoadOlder = history.hasMore && history.status === 'ready' && !history.loadingOlder;
    this.#updateJump();
  }

  /** "Jump to latest" shows while the view is away from the bottom, with how many are new. */
  #updateJump() {
    const { history: scroller, jumpLatest } = this.els;
    const away = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight >= BOTTOM_SLACK_PX;
    const unseen = this.othersIndexes.filter((index) => index > this.newestSeen).length;
    jumpLatest.hidden = !away;
    setText(jumpLatest, unseen ? `Jump to latest (${unseen} new)` : 'Jump to latest');
  }

  /** The "New messages" divider goes above the first unread message from someone else. */
  #placeDivider(items, history) {
    if (history.unreadFrom === undefined || history.unreadFrom === null) return;
    const at = items.findIndex(
      ({ message }) => message?.sid && message.index >= history.unreadFrom && message.author !== this.me,
    );
    if (at !== -1) items.splice(at, 0, { divider: true, key: 'divider' });
  }

  #createDivider() {
    return h(
      'li',
      // The separator inside the item: on the item itself it would take it out of the list.
      { className: 'history-divider' },
      h(
        'span',
        { className: 'history-divider__label', attrs: { role: 'separator', 'aria-label': 'New messages' } },
        'New messages',
      ),
    );
  }

  /** Once per opening, start the view at the divider (if any) rather than at the bottom. */
  #scrollToDivider(history) {
    if (this.dividerShownFor === history) return false;
    const divider = this.els.messages.querySelector(':scope > .history-divider');
    if (!divider) return false;
    this.dividerShownFor = history;
    const scroller = this.els.history;
    scroller.scrollTop += divider.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 8;
    return true;
  }

  /** "Seen…" stands in for "Sent" under the message read receipts put it under. */
  #updateReceipt(el, item) {
    el.classList.toggle('message--seen', Boolean(item.receipt));
    el.parts.receipt.hidden = !item.receipt;
    setText(el.parts.receipt, item.receipt ?? '');
  }
}

/** A note's words: fixed, or worded now (it names people whose names may have arrived since). */
function noteText(note) {
  return typeof note.text === 'function' ? note.text() : note.text;
}
