// What a member does to a conversation's membership: start one (a 1:1 or a named group), and,
// from the open group's header, rename it, add a person (a phone number joins by SMS), remove
// one (an SMS number too, from its "Remove" button) or leave. Everyone, this page included,
// also sees each change by stream event; the page applies the answer at once as well.

import { elementsUnder } from '../dom.js';
import { canChangeMembers, looksLikePhone } from '../format.js';
import { nameOf } from '../names.js';

export class GroupActions {
  /**
   * @param {{root: HTMLElement, dialog: import('./group-dialog.js').GroupDialog,
   *          api: import('../api.js').Api, state: import('../state.js').ChatState,
   *          banners: import('./banners.js').Banners, onChange: () => void,
   *          onLeft: (sid: string) => void}} options
   * `root` holds the header's buttons (#group-actions); `onLeft(sid)` runs once the user has left.
   */
  constructor({ root, dialog, api, state, banners, onChange, onLeft }) {
    Object.assign(this, { root, dialog, api, state, banners, onChange, onLeft });
    const els = elementsUnder(root, {
      rename: '#group-rename',
      addPerson: '#group-add-person',
      removePerson: '#group-remove-person',
      leave: '#group-leave',
    });
    els.rename.addEventListener('click', () => this.askRename());
    els.addPerson.addEventListener('click', () => this.askAddPerson());
    els.removePerson.addEventListener('click', () => this.askRemovePerson());
    els.leave.addEventListener('click', () => this.leave());
  }

  /** `conversation` is the open one, or null: the buttons show where members may be changed. */
  render(conversation) {
    this.root.hidden = !conversation || !canChangeMembers(conversation);
  }

  /** Start (or reopen) a conversation; rejects with a readable Error for the dialog to show. */
  async start(usernames, friendlyName) {
    const { conversation } = await this.api.createConversation(usernames, friendlyName);
    this.state.upsertConversation(conversation);
    this.onChange();
    return conversation;
  }

  askRename() {
    const sid = this.state.openSid;
    const conversation = this.state.conversations.get(sid);
    this.dialog.ask({
      title: 'Rename group',
      label: 'Group name',
      submit: 'Save',
      value: conversation?.friendly_name ?? '',
      action: async (name) => {
        const { conversation: renamed } = await this.api.renameConversation(sid, name);
        this.state.upsertConversation(renamed);
        this.onChange();
      },
    });
  }

  askAddPerson() {
    const sid = this.state.openSid;
    this.dialog.ask({
      title: 'Add person',
      label: 'Username or phone number',
      hint: 'A phone number in international form, like +15551234567, joins by SMS; whatsapp:+15551234567 joins by WhatsApp.',
      submit: 'Add',
      action: async (username) => {
        const before = this.state.conversations.get(sid)?.participants ?? [];
        const { conversation } = looksLikePhone(username)
          ? await this.api.addPhoneParticipant(sid, username)
          : await this.api.addParticipant(sid, username);
        const added = conversation.participants.find((name) => !before.includes(name));
        if (added) this.state.addNote(sid, () => `You added ${nameOf(added)}`);
        this.state.upsertConversation(conversation);
        this.onChange();
      },
    });
  }

  /** Remove a chat user from the open group; everyone (them included) sees who did it. */
  askRemovePerson() {
    const sid = this.state.openSid;
    this.dialog.ask({
      title: 'Remove person',
      label: 'Username or phone number',
      hint: 'They stop seeing the group at once; everyone sees who removed them.',
      submit: 'Remove',
      action: async (who) => {
        let name = who.trim().toLowerCase();
        if (looksLikePhone(name)) {
          name = name.replace(/[\s\-.()]/g, '');
          if (!name.replace(/^whatsapp:/, '').startsWith('+')) throw new Error('Write the number with its country code, like +15551234567.');
        }
        await this.api.removeParticipant(sid, name);
        this.#removed(sid, name);
      },
    });
  }

  /** Remove an SMS participant (a phone cannot leave by itself); everyone sees a system line. */
  async removePhone(number) {
    const sid = this.state.openSid;
    if (!sid || !window.confirm(`Remove ${number} from this group? It will stop getting the group's texts.`)) return;
    try {
      await this.api.removeParticipant(sid, number);
      this.#removed(sid, number);
    } catch (error) {
      this.banners.showError(`${number} is still in the group: ${error.message}`);
    }
  }

  async leave() {
    const sid = this.state.openSid;
    if (!sid || !window.confirm('Leave this group? You will no longer see its messages.')) return;
    try {
      await this.api.leaveConversation(sid);
      this.onLeft(sid);
    } catch (error) {
      this.banners.showError(`You are still in the group: ${error.message}`);
    }
  }

  /** The server removed `name`: it leaves the member list with a note, unless an event did first. */
  #removed(sid, name) {
    const conversation = this.state.conversations.get(sid);
    if (conversation?.participants.includes(name)) {
      conversation.participants = conversation.participants.filter((p) => p !== name);
      this.state.addNote(sid, () => `You removed ${nameOf(name)}`);
    }
    this.onChange();
  }
}
