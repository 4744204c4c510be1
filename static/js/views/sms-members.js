// The open group's SMS and WhatsApp participants under its title: each number with an "SMS" or
// "WhatsApp" badge and a "Remove" button (a phone cannot leave from its phone, so any member may remove it).

import { h, reconcile, setText } from '../dom.js';
import { canChangeMembers, isGroup, isWhatsAppAuthor, phoneMembers } from '../format.js';

export class SmsMembersView {
  /** @param {{root: HTMLElement, onRemove: (number: string) => void}} options  `root` is the list (#pane-sms) */
  constructor({ root: list, onRemove }) {
    this.list = list;
    list.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-phone]');
      if (button) onRemove(button.dataset.phone);
    });
  }

  /** `conversation` is the open one, or null when none is open. */
  render(conversation) {
    const phones = conversation && isGroup(conversation) ? phoneMembers(conversation) : [];
    const removable = Boolean(conversation) && canChangeMembers(conversation);
    this.list.hidden = phones.length === 0;
    reconcile(
      this.list,
      phones,
      (number) => number,
      () => {
        const number = h('span', { className: 'sms-member__number' });
        const badge = h('span', { className: 'badge badge--sms', title: 'Joins by text message' }, 'SMS');
        const remove = h('button', { type: 'button', className: 'button button--small button--quiet' }, 'Remove');
        const el = h('li', { className: 'sms-member' }, number, badge, remove);
        el.parts = { number, badge, remove };
        return el;
      },
      (el, number) => {
        setText(el.parts.number, number);
        const whatsapp = isWhatsAppAuthor(number);
        setText(el.parts.badge, whatsapp ? 'WhatsApp' : 'SMS');
        el.parts.badge.title = whatsapp ? 'Joins by WhatsApp' : 'Joins by text message';
        el.parts.badge.classList.toggle('badge--whatsapp', whatsapp);
        el.parts.remove.dataset.phone = number;
        el.parts.remove.setAttribute('aria-label', `Remove ${number}`);
        el.parts.remove.hidden = !removable;
      },
    );
  }
}
