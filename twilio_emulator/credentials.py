"""The fixed credentials of the local Twilio Conversations emulator.

They are fake on purpose: a developer points the `twilio` library at the emulator with these
values and no Twilio account. Only the auth token is meant to be overridden (Parley passes its
own `TWILIO_AUTH_TOKEN` so webhook signatures verify with the same secret it uses live).
"""

EMULATOR_ACCOUNT_SID = "AC" + "0" * 32
EMULATOR_AUTH_TOKEN = "emulator-auth-token"
EMULATOR_SERVICE_SID = "IS" + "0" * 32
EMULATOR_API_KEY_SID = "SK" + "0" * 32
EMULATOR_API_KEY_SECRET = "emulator-api-key-secret"
