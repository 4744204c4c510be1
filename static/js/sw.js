// Parley's service worker: shows the pushes Parley sends while no Parley page is open
// (webapp/push), and opens the conversation on a click. Served from /sw.js so its scope is
// the whole site; it caches nothing and handles no fetch.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = {};
  }
  const sid = typeof data.conversation_sid === 'string' ? data.conversation_sid : '';
  const title = typeof data.title === 'string' && data.title ? data.title : 'Parley';
  const body = typeof data.body === 'string' && data.body ? data.body : 'New message';
  const options = {
    body,
    // One notification per conversation: a burst replaces it, and still alerts.
    tag: sid || 'parley',
    renotify: true,
    data: { url: sid ? `/c/${encodeURIComponent(sid)}` : '/' },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || '/', self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
      if (open) {
        await open.focus();
        if ('navigate' in open) {
          await open.navigate(url);
        }
        return;
      }
      await self.clients.openWindow(url);
    })(),
  );
});
