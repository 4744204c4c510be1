// A real, certified OpenID Connect provider (panva/node-oidc-provider) for the tests to sign
// in through: one confidential client (code flow, PKCE required), test users, and the
// library's development login and consent pages. Settings come from the environment.
import Provider from 'oidc-provider';

const { OIDC_ISSUER, OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS } = process.env;

// Login names the dev login page accepts; anything else is refused.
const USERS = {
  ada: { name: 'Ada Lovelace' },
  grace: { preferred_username: 'grace' },
  alice: { name: 'Not the Alice of Parley' }, // Parley's demo alice is a password account
};

const provider = new Provider(OIDC_ISSUER, {
  clients: [
    {
      client_id: OIDC_CLIENT_ID,
      client_secret: OIDC_CLIENT_SECRET,
      redirect_uris: OIDC_REDIRECT_URIS.split(','),
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['oidc-test-provider-cookie-key'] },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(USERS, id)) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...USERS[id] }) };
  },
});

provider.listen(Number(OIDC_PORT), '127.0.0.1', () => {
  console.log(`oidc-provider listening at ${OIDC_ISSUER}`);
});
