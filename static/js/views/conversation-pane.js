// The main pane: the open conversation's header and its history, oldest at the top.

import { h, reconcile, setText } from '../dom.js';
import { displayName, fullTime, isGroup, isSmsAuthor, memberList, shortTime } from '../format.js';

const BOTTOM_SLACK_PX = 48; // "at the bottom" within this distance
const STATUS_TEXT = { sending: 'Sending…', failed: 'Failed', sent: 'Sent' };

export class ConversationPaneView {
  constructor({ els, me, onLoadOlder, onRetry, onBack }) {
    this.els = els;
    this.me = me;
    this.renderedSid = null;
    this.renderedStatus = null;
    this.forceBottom = false;
    els.loadOlder.addEventListener('click', onLoadOlder);
    els.back.addEventListener('click', onBack);
    els.notFoundHome.addEventListener('click', (event) => {
      event.preventDefault();
      onBack();
    });
    els.messages.addEventListener('click', (event) => {
      const retry = event.target.closest('button[data-retry]');
      if (retry) onRetry(retry.dataset.retry);
    });
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
    els.notFound.hidden = status !== 'not_found';
    els.conversation.hidden = !history || status === 'not_found';
    if (!history || status === 'not_found') {
      this.renderedSid = history?.sid ?? null;
      return;
    }

    const conversation = state.conversations.get(history.sid);
    setText(els.title, conversation ? displayName(conversation, this.me) : 'Conversation');
    const subtitle = conversation && isGroup(conversation) ? memberList(conversation, this.me) : '';
    els.subtitle.hidden = !subtitle;
    setText(els.subtitle, subtitle);

    els.loadOlder.hidden = !history.hasMore || status !== 'ready';
    els.loadOlder.disabled = history.loadingOlder;
    setText(els.loadOlder, history.loadingOlder ? 'Loading older messages…' : 'Load older messages');
    const statusText = status === 'loading' ? 'Loading messages…' : status === 'error' ? 'Messages could not be loaded.' : '';
    els.historyStatus.hidden = !statusText;
    setText(els.historyStatus, statusText);

    this.#renderMessages(state, history);
  }

  #renderMessages(state, history) {
    const scroller = this.els.history;
    const switched = this.renderedSid !== history.sid;
    const justLoaded = this.renderedStatus === 'loading' && history.status === 'ready';
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < BOTTOM_SLACK_PX;
    const anchor = this.els.messages.firstElementChild;
    const anchorTop = anchor?.offsetTop ?? 0;

    const items = [
      ...state.orderedMessages().map((message) => ({ message, status: message.author === this.me ? 'sent' : null })),
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
      const clientId = item.message.attributes?.client_id;
      item.key = clientId && !used.has(clientId) ? `c:${clientId}` : `s:${item.message.sid}`;
      if (clientId) used.add(clientId);
    }

    reconcile(
      this.els.messages,
      items,
      (item) => item.key,
      () => this.#createMessage(),
      (el, item) => this.#updateMessage(el, item),
    );

    if (switched || justLoaded || this.forceBottom || atBottom) {
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
      statusText: h('span', { className: 'message__status-text' }),
      retry: h('button', { type: 'button', className: 'button button--small button--quiet message__retry' }, 'Retry'),
    };
    parts.status = h('p', { className: 'message__status' }, parts.statusText, parts.retry);
    const el = h(
      'li',
      { className: 'message' },
      h('p', { className: 'message__meta' }, parts.author, parts.sms, parts.time),
      h('div', { className: 'message__bubble' }, parts.body),
      parts.status,
    );
    el.parts = parts;
    return el;
  }

  #updateMessage(el, item) {
    const { parts } = el;
    const { message, status } = item;
    const own = message.author === this.me;
    el.classList.toggle('message--own', own);
    el.classList.toggle('message--settled', item.settled);
    el.dataset.status = status ?? '';
    setText(parts.author, own ? 'You' : message.author);
    parts.sms.hidden = !(isSmsAuthor(message.author) || message.source === 'SMS');
    setText(parts.time, shortTime(message.date_created));
    parts.time.dateTime = message.date_created;
    parts.time.title = fullTime(message.date_created);
    setText(parts.body, message.body ?? '');

    parts.status.hidden = !status;
    setText(parts.statusText, STATUS_TEXT[status] ?? '');
    parts.status.title = item.error ?? '';
    parts.retry.hidden = status !== 'failed';
    if (item.clientId) parts.retry.dataset.retry = item.clientId;
  }
}
