// The JSON API: one place that adds the CSRF header, parses errors, handles a lost session and
// keeps the names an answer carries (names.js).

import { learnNames } from './names.js';

/** An API failure with the server's readable message (`{"error": {"code", "message"}}`). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** A random UUID v4 that also works outside secure contexts (where crypto.randomUUID is absent). */
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class Api {
  /** @param {{root: string, loginUrl: string}} options root is the app's script root ("" usually). */
  constructor({ root, loginUrl }) {
    this.root = root;
    this.loginUrl = loginUrl;
  }

  listConversations() {
    return this.#request('GET', '/api/conversations');
  }

  /** Start (or find the existing 1:1) conversation with these usernames; a name makes a group. */
  createConversation(participants, friendlyName) {
    const body = friendlyName ? { participants, friendly_name: friendlyName } : { participants };
    return this.#request('POST', '/api/conversations', body);
  }

  renameConversation(conversationSid, friendlyName) {
    return this.#request('PATCH', `/api/conversations/${encodeURIComponent(conversationSid)}`, {
      friendly_name: friendlyName,
    });
  }

  addParticipant(conversationSid, username) {
    return this.#request('POST', `/api/conversations/${encodeURIComponent(conversationSid)}/participants`, { username });
  }

  /** Add a phone number (E.164) to a group as an SMS participant. */
  addPhoneParticipant(conversationSid, phoneNumber) {
    return this.#request('POST', `/api/conversations/${encodeURIComponent(conversationSid)}/participants`, {
      phone_number: phoneNumber,
    });
  }

  /** Remove an SMS participant from a group by its number. */
  /** Remove someone else from a group: a username, or a phone number (an SMS participant). */
  removeParticipant(conversationSid, who) {
    const path = `/api/conversations/${encodeURIComponent(conversationSid)}/participants/${encodeURIComponent(who)}`;
    return this.#request('DELETE', path);
  }

  /** Each phone's delivery of one message (Twilio's Receipts), as `delivery_updated` says it live. */
  messageDeliveries(conversationSid, messageSid) {
    return this.#request('GET', `${this.#messagePath(conversationSid, messageSid)}/deliveries`);
  }

  leaveConversation(conversationSid) {
    return this.#request('DELETE', `/api/conversations/${encodeURIComponent(conversationSid)}/membership`);
  }

  editMessage(conversationSid, messageSid, body) {
    return this.#request('PATCH', this.#messagePath(conversationSid, messageSid), { body });
  }

  deleteMessage(conversationSid, messageSid) {
    return this.#request('DELETE', this.#messagePath(conversationSid, messageSid));
  }

  #messagePath(conversationSid, messageSid) {
    return `/api/conversations/${encodeURIComponent(conversationSid)}/messages/${encodeURIComponent(messageSid)}`;
  }

  listMessages(conversationSid, { limit = 50, before } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) query.set('before', String(before));
    return this.#request('GET', `/api/conversations/${encodeURIComponent(conversationSid)}/messages?${query}`);
  }

  /** client_id makes the send idempotent and lets the stream event confirm this very message. */
  sendMessage(conversationSid, body, clientId, mediaSids) {
    const payload = { body, client_id: clientId };
    if (mediaSids?.length) payload.media_sids = mediaSids;
    return this.#request('POST', `/api/conversations/${encodeURIComponent(conversationSid)}/messages`, payload);
  }

  /**
   * Upload one file (the body is the file itself) and resolve with its media ({sid, …}).
   * XMLHttpRequest, not fetch: only it reports upload progress, as `onProgress(loaded, total)`.
   */
  uploadMedia(conversationSid, file, onProgress) {
    const query = file.name ? `?filename=${encodeURIComponent(file.name)}` : '';
    const url = `${this.root}/api/conversations/${encodeURIComponent(conversationSid)}/media${query}`;
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('X-CSRFToken', document.querySelector('meta[name="csrf-token"]')?.content ?? '');
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      xhr.upload.addEventListener('progress', (event) => onProgress?.(event.loaded, event.total));
      xhr.addEventListener('error', () =>
        reject(new ApiError(0, 'network_error', 'The upload did not reach Parley. Check your connection and try again.')),
      );
      xhr.addEventListener('load', () => {
        let payload = null;
        try {
          payload = JSON.parse(xhr.responseText);
        } catch {
          // an answer that is not JSON is reported below
        }
        if (xhr.status === 401) this.#goToLogin();
        if (xhr.status === 201 && payload?.media) resolve(payload.media);
        else {
          const error = payload?.error;
          reject(new ApiError(xhr.status, error?.code ?? `http_${xhr.status}`, error?.message ?? `The upload failed (HTTP ${xhr.status}).`));
        }
      });
      xhr.send(file);
    });
  }

  /** Move this user's read horizon forward to message `index`. */
  markRead(conversationSid, index) {
    return this.#request('POST', `/api/conversations/${encodeURIComponent(conversationSid)}/read`, { index });
  }

  /** Tell the others this user is typing here (the caller sends at most one every few seconds). */
  sendTyping(conversationSid) {
    return this.#request('POST', `/api/conversations/${encodeURIComponent(conversationSid)}/typing`);
  }

  /** {presence: {identity: online}} for everyone sharing a conversation with this user. */
  getPresence() {
    return this.#request('GET', '/api/presence');
  }

  getConversation(conversationSid) {
    return this.#request('GET', `/api/conversations/${encodeURIComponent(conversationSid)}`);
  }

  /** Any cheap call that needs a login: a 401 takes the page to the login form. */
  checkSession() {
    return this.#request('GET', '/api/users');
  }

  /** People whose name (or identity) starts with `query`, a page at a time (`after`: the last page's `next`). */
  searchUsers(query, after) {
    const params = new URLSearchParams({ q: query });
    if (after) params.set('after', after);
    return this.#request('GET', `/api/users?${params}`);
  }

  /** Mute for 'hour', 'day' or 'forever': {conversation_sid, mute: {until}}. */
  muteConversation(conversationSid, duration) {
    return this.#request('PUT', `/api/conversations/${encodeURIComponent(conversationSid)}/mute`, { duration });
  }

  unmuteConversation(conversationSid) {
    return this.#request('DELETE', `/api/conversations/${encodeURIComponent(conversationSid)}/mute`);
  }

  /** Whether push is on, its public key, and (with `endpoint`) whether that subscription is this user's. */
  pushSettings(endpoint) {
    const query = endpoint ? `?endpoint=${encodeURIComponent(endpoint)}` : '';
    return this.#request('GET', `/api/push${query}`);
  }

  savePushSubscription(subscription) {
    return this.#request('POST', '/api/push/subscriptions', subscription);
  }

  removePushSubscription(endpoint) {
    return this.#request('DELETE', '/api/push/subscriptions', { endpoint });
  }

  async #request(method, path, body) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin' };
    if (method !== 'GET') {
      headers['X-CSRFToken'] = document.querySelector('meta[name="csrf-token"]')?.content ?? '';
    }
    if (body !== undefined || method === 'POST') {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body ?? {});
    }

    let response;
    try {
      response = await fetch(this.root + path, init);
    } catch {
      throw new ApiError(0, 'network_error', 'Could not reach Parley. Check your connection and try again.');
    }

    if (response.status === 401) {
      this.#goToLogin();
      throw new ApiError(401, 'unauthorized', 'Your session has ended. Please log in again.');
    }

    if (response.status === 204) return {};
    const payload = await response.json().catch(() => null);
    if (!response.ok) {
      const error = payload?.error;
      throw new ApiError(
        response.status,
        error?.code ?? `http_${response.status}`,
        error?.message ?? `Something went wrong (HTTP ${response.status}). Please try again.`,
      );
    }
    if (payload === null) {
      throw new ApiError(response.status, 'bad_response', 'Parley sent a response this page could not read.');
    }
    if (payload.names) learnNames(payload.names);
    return payload;
  }

  #goToLogin() {
    const next = window.location.pathname + window.location.search;
    window.location.assign(`${this.loginUrl}?next=${encodeURIComponent(next)}`);
  }
}
