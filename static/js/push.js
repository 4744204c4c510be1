// "Notify me when Parley is closed": this browser's Web Push subscription (webapp/push). The
// permission is asked only when the button is clicked; the service worker (/sw.js) shows
// what Parley pushes while no Parley page is open.

import { Api } from './api.js';

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

class PushControl {
  constructor({ api, root, toggle, previews, status }) {
    Object.assign(this, { api, root, toggle, previews, status });
    this.registration = null;
    this.subscription = null;
    this.publicKey = null;
  }

  async start() {
    if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) return;
    const settings0 = await this.api.pushSettings();
    if (!settings0.enabled) return;
    this.publicKey = settings0.public_key;
    this.registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    let subscription = await this.registration.pushManager.getSubscription();
    let previews = true;
    if (subscription) {
      const settings = await this.api.pushSettings(subscription.endpoint);
      if (settings.subscribed && Notification.permission === 'granted') {
        previews = settings.previews;
      } else {
        // Kept past a logout, or expired at its push service: not this user's any more.
        await subscription.unsubscribe().catch(() => {});
        subscription = null;
      }
    }
    this.subscription = subscription;
    this.previews.checked = previews;
    this.toggle.addEventListener('click', () => this.#run(() => (this.subscription ? this.#off() : this.#on())));
    this.previews.addEventListener('change', () => this.subscription && this.#run(() => this.#save()));
    this.root.hidden = false;
    this.#render();
  }

  async #on() {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      this.#say(permission === 'denied' ? 'Notifications are blocked in this browser’s site settings.' : '');
      return;
    }
    this.subscription = await this.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(this.publicKey),
    });
    await this.#save();
  }

  async #save() {
    await this.api.savePushSubscription({ ...this.subscription.toJSON(), expirationTime: undefined, previews: this.previews.checked });
  }

  async #off() {
    const { endpoint } = this.subscription;
    await this.subscription.unsubscribe().catch(() => {});
    this.subscription = null;
    await this.api.removePushSubscription(endpoint);
  }

  async #run(action) {
    this.toggle.disabled = true;
    this.#say('');
    try {
      await action();
    } catch (error) {
      this.#say(`Could not change push notifications: ${error.message}`);
    } finally {
      this.toggle.disabled = false;
      this.#render();
    }
  }

  #render() {
    const on = Boolean(this.subscription);
    this.toggle.textContent = on ? 'Turn off notifications when closed' : 'Notify me when Parley is closed';
    this.toggle.setAttribute('aria-pressed', String(on));
    this.root.dataset.state = on ? 'on' : 'off';
  }

  #say(text) {
    this.status.textContent = text;
  }
}

const root = document.getElementById('push-control');
if (root) {
  const { root: scriptRoot = '', loginUrl } = document.getElementById('app').dataset;
  const control = new PushControl({
    api: new Api({ root: scriptRoot, loginUrl }),
    root,
    toggle: document.getElementById('push-toggle'),
    previews: document.getElementById('push-previews'),
    status: document.getElementById('push-status'),
  });
  control.start().catch(() => {});
  window.parleyPush = control;
}
