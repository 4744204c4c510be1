// How conversations and messages are named and dated on screen.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

/** The conversation's friendly name, else the other participants' names. */
export function displayName(conversation, me) {
  if (conversation.friendly_name) return conversation.friendly_name;
  const others = (conversation.participants ?? []).filter((name) => name !== me);
  return others.length ? others.join(', ') : 'Just you';
}

/** True for an author who writes by SMS: a phone number in E.164 form. */
export function isSmsAuthor(author) {
  return /^\+\d{6,15}$/.test(author ?? '');
}

/** Local short time for a message ("10:42 AM"). */
export function shortTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : timeFormat.format(date);
}

/** Time today, else the day: for the conversation list. */
export function listTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toDateString() === new Date().toDateString() ? timeFormat.format(date) : dayFormat.format(date);
}

/** Full local date and time, for a tooltip. */
export function fullTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : fullFormat.format(date);
}

/** A conversation of more than two people, or one with a name: its messages need an author. */
export function isGroup(conversation) {
  return Boolean(conversation.friendly_name) || (conversation.participants ?? []).length > 2;
}

/** The list's preview: "You: hi", "bob: hi" in a group, plain "hi" from the other person of a 1:1. */
export function preview(conversation, me) {
  const message = conversation.last_message;
  if (!message) return 'No messages yet';
  const text = message.deleted ? DELETED_TEXT : message.body ?? '';
  if (message.author === me) return `You: ${text}`;
  return isGroup(conversation) ? `${message.author}: ${text}` : text;
}

/** What a deleted message shows instead of its body. */
export const DELETED_TEXT = 'This message was deleted';

/** A group can be renamed and grown; a 1:1 conversation ("dm:a:b") stays a pair. */
export function canChangeMembers(conversation) {
  return !(conversation.unique_name ?? '').startsWith('dm:');
}

/** Who is in it, for the conversation header: "You, bob, carol". */
export function memberList(conversation, me) {
  const others = (conversation.participants ?? []).filter((name) => name !== me);
  return ['You', ...others].join(', ');
}

/** Length as the server counts it (code points, not UTF-16 units). */
export function bodyLength(body) {
  return [...body].length;
}
