"""Who is in a conversation, whose contacts, who is online.

Asked by the webhooks (whom to deliver to), the API (may this user open it; who is online) and
the stream (a user came or went). The answers come from Twilio through the gateway and are
cached in the broker's store (Redis when there is one): ``participants.py``, ``contacts.py``,
``presence.py``; ``presence_relay.py`` tells a user's contacts when they come and go.
"""
