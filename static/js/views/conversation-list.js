// The sidebar: one row per conversation, most recent first, with preview and unread badge.

import { elementsUnder, h, reconcile, setText } from '../dom.js';
import { displayName, listTime, preview } from '../format.js';
import { isMuted, muteLabel, muteMark } from './mute.js';

export class ConversationListView {
  /**
   * @param {{root: HTMLElement, me: string, urlRoot: string, onOpen: (sid: string) => void}} options
   * `root` is the sidebar (#sidebar); `urlRoot` is the path Parley is mounted under.
   */
  constructor({ root, me, urlRoot, onOpen }) {
    const { list, status } = elementsUnder(root, { list: '#conversation-list', status: '#conversation-list-status' });
    this.list = list;
    this.status = status;
    this.me = me;
    this.urlRoot = urlRoot;
    list.addEventListener('click', (event) => {
      const link = event.target.closest('a[data-sid]');
      if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      onOpen(link.dataset.sid);
    });
  }

  render(state) {
    const conversations = state.sortedConversations();
    reconcile(
      this.list,
      conversations,
      (conversation) => conversation.sid,
      (conversation) => this.#createRow(conversation),
      (row, conversation) => this.#updateRow(row, conversation, state.openSid),
    );
    const statusText = !state.conversationsLoaded
      ? 'Loading conversations…'
      : conversations.length === 0
        ? 'No conversations yet. Start one with “New conversation”.'
        : '';
    this.status.hidden = !statusText;
    setText(this.status, statusText);
  }

  #createRow(conversation) {
    const parts = {
      avatar: h('span', { className: 'avatar', attrs: { 'aria-hidden': 'true' } }),
      name: h('span', { className: 'conversation__name' }),
      time: h('time', { className: 'conversation__time' }),
      preview: h('span', { className: 'conversation__preview' }),
      badgeCount: h('span'),
      // Muted: no notifications from it, its count dimmed.
      muted: muteMark(),
    };
    parts.badge = h('span', { className: 'badge' }, parts.badgeCount, h('span', { className: 'visually-hidden' }, ' unread'));
    const link = h(
      'a',
      { className: 'conversation', href: `${this.urlRoot}/c/${encodeURIComponent(conversation.sid)}`, dataset: { sid: conversation.sid } },
      parts.avatar,
      h(
        'span',
        { className: 'conversation__main' },
        h('span', { className: 'conversation__line' }, parts.name, parts.muted, parts.time),
        h('span', { className: 'conversation__line' }, parts.preview, parts.badge),
      ),
    );
    const row = h('li', { className: 'conversation-list__item' }, link);
    row.parts = parts;
    return row;
  }

  #updateRow(row, conversation, openSid) {
    const { parts } = row;
    const name = displayName(conversation, this.me);
    setText(parts.name, name);
    setText(parts.avatar, (name.replace(/^\+/, '')[0] ?? '?').toUpperCase());
    parts.avatar.dataset.tone = String(tone(name));
    setText(parts.preview, preview(conversation, this.me));
    setText(parts.time, listTime(conversation.last_message?.date_created ?? conversation.last_activity));
    parts.time.dateTime = conversation.last_message?.date_created ?? conversation.last_activity ?? '';
    const unread = conversation.unread_count || 0;
    parts.badge.hidden = unread === 0;
    setText(parts.badgeCount, unread > 99 ? '99+' : String(unread));
    const link = row.firstElementChild;
    link.classList.toggle('conversation--unread', unread > 0);
    const muted = isMuted(conversation);
    link.classList.toggle('conversation--muted', muted);
    parts.muted.hidden = !muted;
    parts.muted.title = muted ? muteLabel(conversation) : '';
    if (conversation.sid === openSid) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** A stable colour (0–5) for a name's avatar. */
function tone(name) {
  let hash = 0;
  for (const char of name) hash = (hash * 65599 + char.codePointAt(0)) >>> 0; // sdbm: spreads short names well
  return hash % 6;
}
