// The main pane: the open conversation's header and its history, oldest at the top.

import { h, reconcile, setText } from '../dom.js';
import {
  DELETED_TEXT,
  canChangeMembers,
  displayName,
  fullTime,
  isGroup,
  isSmsAuthor,
  memberList,
  shortTime,
} from '../format.js';

const BOTTOM_SLACK_PX = 48; // "at the bottom" within this distance
const STATUS_TEXT = { sending: 'Sending…', failed: 'Failed', sent: 'Sent' };

export class ConversationPaneView {
  /**
   * onEdit(message, body) and onDelete(message) change one's own message; onRename, onAddPerson
   * and onLeave act on the open group.
   */
  constructor({ els, me, onLoadOlder, onRetry, onBack, onEdit, onDelete, onRename, onAddPerson, onLeave }) {
    this.els = els;
    this.me = me;
    /** The sid of the message being edited in place, if any. */
    this.editingSid = null;
    this.onEdit = onEdit;
    this.onDelete = onDelete;
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
    els.rename.addEventListener('click', onRename);
    els.addPerson.addEventListener('click', onAddPerson);
    els.leave.addEventListener('click', onLeave);
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
    els.groupActions.hidden = !conversation || !canChangeMembers(conversation);

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

    const messages = state.orderedMessages().map((message) => ({
      message,
      status: message.author === this.me && !message.deleted ? 'sent' : null,
    }));
    // A note ("alice added carol") goes after the newest message of when it happened.
    for (const note of history.notes) {
      const at = messages.findIndex((item) => item.message && item.message.index > note.after);
      messages.splice(at === -1 ? messages.length : at, 0, { note, key: note.key });
    }
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
      if (item.note) continue;
      const clientId = item.message.attributes?.client_id;
      item.key = clientId && !used.has(clientId) ? `c:${clientId}` : `s:${item.message.sid}`;
      if (clientId) used.add(clientId);
    }

    reconcile(
      this.els.messages,
      items,
      (item) => item.key,
      (item) => (item.note ? h('li', { className: 'message-note' }) : this.#createMessage()),
      (el, item) => (item.note ? setText(el, item.note.text) : this.#updateMessage(el, item)),
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
      edited: h('span', { className: 'message__edited' }, '(edited)'),
      edit: h('button', { type: 'button', className: 'button button--small button--quiet' }, 'Edit'),
      delete: h('button', { type: 'button', className: 'button button--small button--quiet' }, 'Delete'),
      editInput: h('textarea', { className: 'message__edit-input', rows: 2, attrs: { 'aria-label': 'Edit message' } }),
      save: h('button', { type: 'submit', className: 'button button--small button--primary' }, 'Save'),
      cancel: h('button', { type: 'button', className: 'button button--small button--quiet' }, 'Cancel'),
    };
    parts.status = h('p', { className: 'message__status' }, parts.statusText, parts.retry);
    parts.actions = h('p', { className: 'message__actions' }, parts.edit, parts.delete);
    parts.editForm = h('form', { className: 'message__edit' }, parts.editInput, parts.save, parts.cancel);
    const el = h(
      'li',
      { className: 'message' },
      h('p', { className: 'message__meta' }, parts.author, parts.sms, parts.time, parts.edited),
      h('div', { className: 'message__bubble' }, parts.body),
      parts.editForm,
      parts.status,
      parts.actions,
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
    setText(parts.author, own ? 'You' : message.author);
    parts.sms.hidden = !(isSmsAuthor(message.author) || message.source === 'SMS');
    setText(parts.time, shortTime(message.date_created));
    parts.time.dateTime = message.date_created;
    parts.time.title = fullTime(message.date_created);
    const deleted = Boolean(message.deleted);
    el.classList.toggle('message--deleted', deleted);
    setText(parts.body, deleted ? DELETED_TEXT : message.body ?? '');
    parts.edited.hidden = !message.edited || deleted;
    el.message = message;
    el.canChange = own && Boolean(message.sid) && !deleted;
    this.#showEditing(el);

    parts.status.hidden = !status;
    setText(parts.statusText, STATUS_TEXT[status] ?? '');
    parts.status.title = item.error ?? '';
    parts.retry.hidden = status !== 'failed';
    if (item.clientId) parts.retry.dataset.retry = item.clientId;
  }
}
