// An OpenID Connect provider that is not ours (panva's certified
// oidc-provider), for the relying party's end-to-end tests. Started by
// tests/it/external_idp.rs with PORT and REDIRECT_URIS; login and consent
// are completed automatically for one test citizen.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const redirectUris = (process.env.REDIRECT_URIS || '').split(',').filter(Boolean);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'dimos',
    client_secret: 'external-secret',
    redirect_uris: redirectUris,
    post_logout_redirect_uris: redirectUris.map((u) => u.replace('/auth/callback', '/')),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['given_name', 'family_name', 'name', 'tax_id'],
    email: ['email'],
    phone: ['phone_number'],
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          given_name: 'Κώστας',
          family_name: 'Ανδρέου',
          name: 'Κώστας Ανδρέου',
          email: 'kostas@example.gr',
          phone_number: '+306900000099',
          tax_id: '200000018',
        };
      },
    };
  },
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['dimos-test-only'] },
});
// Plain HTTP on loopback, for tests.
provider.proxy = false;

provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!m || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: 'external-citizen' } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const d = details.prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) for (const [i, s] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(i, s.join(' '));
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
});

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider ready at ${issuer}`));
