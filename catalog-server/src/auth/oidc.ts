// OIDC login: an ID token (JWT) from the site's identity provider, verified against the issuer's
// JWKS (signature, issuer, audience, expiry), logs into the local account its username claim
// names. Roles stay local: the provider proves who someone is, the server decides what they may do.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type Config, ConfigError } from '../config.js';
import { ApiError, unauthorized } from '../errors.js';
import type { Db } from '../storage/db.js';
import { type UserRecord, userByName } from '../storage/users-repo.js';

export class OidcVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    private readonly auth: Config['auth'],
    private readonly db: Db,
    private readonly clock: () => Date,
  ) {
    if (!auth.oidcAudience) throw new ConfigError('auth.oidcAudience must be set when auth.oidcIssuer is');
    const jwksUrl = auth.oidcJwksUrl || `${auth.oidcIssuer.replace(/\/$/, '')}/.well-known/jwks.json`;
    this.jwks = createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  }

  async userFor(idToken: string): Promise<UserRecord> {
    let claims: Record<string, unknown>;
    try {
      const verified = await jwtVerify(idToken, this.jwks, {
        issuer: this.auth.oidcIssuer,
        audience: this.auth.oidcAudience,
        currentDate: this.clock(),
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'],
      });
      claims = verified.payload;
    } catch (err) {
      throw unauthorized(`ID token rejected: ${(err as Error).message}`);
    }
    const name = claims[this.auth.oidcUsernameClaim];
    if (typeof name !== 'string' || name === '')
      throw unauthorized(`ID token has no ${this.auth.oidcUsernameClaim} claim`);
    const user = await userByName(this.db, name);
    if (!user || user.disabled) throw new ApiError(403, 'FORBIDDEN', `no enabled local account ${name}`);
    return user;
  }
}
