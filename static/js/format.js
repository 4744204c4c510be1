// How conversations and messages are named and dated on screen.

import { nameOf } from './names.js';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const dayTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });

/** The conversation's friendly name, else the other participants' names. */
export function displayName(conversation, me) {
  if (conversation.friendly_name) return conversation.friendly_name;
  const others = (conversation.participants ?? []).filter((name) => name !== me);
  return others.length ? others.map(nameOf).join(', ') : 'Just you';
}

/** True for an author who writes from a phone: E.164 (SMS), or `whatsapp:` and E.164 (WhatsApp). */
export function isSmsAuthor(author) {
  return /^(whatsapp:)?\+\d{6,15}$/.test(author ?? '');
}

/** A WhatsApp participant's address: `whatsapp:` then E.164 (it texts through the same binding). */
export function isWhatsAppAuthor(author) {
  return /^whatsapp:\+\d{6,15}$/.test(author ?? '');
}

/**
 * Local short time for a message: "10:42 AM" today, "Nov 20, 10:42 AM" on another day (a
 * history that spans days must not read as if it were all today).
 */
export function shortTime(iso, now = new Date()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toDateString() === now.toDateString() ? timeFormat.format(date) : dayTimeFormat.format(date);
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
  const text = message.deleted ? DELETED_TEXT : message.body || mediaLabel(message.media);
  if (message.author === me) return `You: ${text}`;
  if (isSmsAuthor(message.author)) return `${message.author} (${isWhatsAppAuthor(message.author) ? 'WhatsApp' : 'SMS'}): ${text}`;
  return isGroup(conversation) ? `${nameOf(message.author)}: ${text}` : text;
}

/** What a message of files alone is called in the list: "Photo", "3 photos", or a file's name. */
export function mediaLabel(media) {
  if (!media?.length) return '';
  if (media.every((m) => isInlineImage(m.content_type))) {
    return media.length === 1 ? 'Photo' : `${media.length} photos`;
  }
  const name = media[0].filename || 'File';
  return media.length === 1 ? name : `${name} and ${media.length - 1} more`;
}

/** Images Parley serves inline (the server serves every other type as a download). */
export function isInlineImage(contentType) {
  return /^image\/(png|jpeg|gif|webp)$/.test(contentType ?? '');
}

/** "2.4 MB", "830 KB", "12 bytes". */
export function fileSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** What a deleted message shows instead of its body. */
export const DELETED_TEXT = 'This message was deleted';

/** A group can be renamed and grown; a 1:1 conversation ("dm:a:b") stays a pair. */
export function canChangeMembers(conversation) {
  return !(conversation.unique_name ?? '').startsWith('dm:');
}

/** Who is in it, for the conversation header: "You, bob, carol" (phones are listed apart). */
export function memberList(conversation, me) {
  const others = (conversation.participants ?? []).filter((name) => name !== me && !isSmsAuthor(name));
  return ['You', ...others.map(nameOf)].join(', ');
}

/** Length as the server counts it (code points, not UTF-16 units). */
export function bodyLength(body) {
  return [...body].length;
}

// --- phone numbers (SMS participants) ---------------------------------------------------------

/** What "Add person" typed is a phone number (to add by SMS) or `whatsapp:` and a number (to add
 *  by WhatsApp), not a username. */
export function looksLikePhone(value) {
  const text = value.trim().replace(/^whatsapp:\s*/i, '');
  return text.startsWith('+') || (/^[\d\s().-]+$/.test(text) && text.replace(/\D/g, '').length >= 7);
}

/** The group's SMS and WhatsApp participants (their addresses), for the header's list with badges. */
export function phoneMembers(conversation) {
  return (conversation.participants ?? []).filter((name) => isSmsAuthor(name));
}

// --- links ----------------------------------------------------------------------------------

// Only http(s) URLs become links; `\b` keeps "xhttp://…" text, and the scheme test below keeps
// javascript:, data: and the rest text, whatever the message says.
const URL_CANDIDATE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCTUATION = '.,;:!?*';
const CLOSERS = { ')': '(', ']': '[', '}': '{' };

/** Drop punctuation that ends the sentence rather than the URL: "see http://x.org/a)." */
function trimUrl(candidate) {
  let url = candidate;
  for (;;) {
    const last = url.at(-1);
    const opener = CLOSERS[last];
    if (TRAILING_PUNCTUATION.includes(last)) {
      url = url.slice(0, -1);
    } else if (opener && url.split(opener).length < url.split(last).length) {
      url = url.slice(0, -1); // an unbalanced closer: "(see http://x.org/a)"
    } else {
      return url;
    }
  }
}

/** A safe absolute http(s) href for `text`, or null. */
function httpHref(text) {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * `text` as nodes: http(s) URLs as links opening in a new tab (the link's text is the user's
 * text, set with textContent), everything else as text nodes. Never parses HTML.
 */
export function linkedNodes(text) {
  const nodes = [];
  let at = 0;
  for (const match of text.matchAll(URL_CANDIDATE)) {
    const url = trimUrl(match[0]);
    const href = httpHref(url);
    if (!href) continue;
    if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
    const link = document.createElement('a');
    link.href = href;
    link.target = '_blank';
    link.rel = 'noopener noreferrer nofollow';
    link.className = 'message__link';
    link.textContent = url;
    nodes.push(link);
    at = match.index + url.length;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

/** Show `text` in `el` with its links clickable; untouched when the text has not changed. */
export function setLinkedText(el, text) {
  if (el.textContent === text && el.childNodes.length) return;
  el.replaceChildren(...linkedNodes(text));
}
