// Local accounts and API tokens. Tokens are "tsw_<id>.<secret>"; only sha256(secret) is stored,
// looked up by id and compared in constant time. Every change is audited in the same transaction.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { identityOf, loadCertificate } from '@trustswarm/policy';
import { appendAudit } from '../audit/chain.js';
import type { Config } from '../config.js';
import { ApiError, badRequest, conflict, notFound, unauthorized } from '../errors.js';
import type { Db } from '../storage/db.js';
import {
  insertToken,
  insertUser,
  type RoleBinding,
  roles,
  updateUser as saveUser,
  type TokenRecord,
  tokenById,
  type UserRecord,
  userById,
  userByName,
} from '../storage/users-repo.js';
import { scopes as allScopes, grantableScopes, type Principal, type Scope } from './authorize.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { newTotpSecret, verifyTotp } from './totp.js';

const namePattern = /^[A-Za-z0-9._@-]{1,64}$/;
const sitePattern = /^[A-Za-z0-9._-]{1,64}$/;
const tokenPattern = /^tsw_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

export interface NewUser {
  name: string;
  password?: string;
  roles: RoleBinding[];
  /** Identity key (canonical issuer|subject); or give the certificate and the key is derived. */
  endorserIdentity?: string;
  endorserCertificatePem?: string;
  totp?: boolean;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function identityFromCertificate(pem: string): string {
  try {
    return identityOf(loadCertificate(pem)).key;
  } catch (err) {
    throw badRequest('CERTIFICATE_INVALID', `endorser certificate: ${(err as Error).message}`);
  }
}

export function validateRoles(bindings: RoleBinding[]): void {
  if (bindings.length === 0) throw badRequest('ROLES_INVALID', 'a user needs at least one role');
  for (const b of bindings) {
    if (!roles.includes(b.role)) throw badRequest('ROLES_INVALID', `unknown role "${String(b.role)}"`);
    if (b.role === 'site-admin' && !(b.site && sitePattern.test(b.site)))
      throw badRequest('ROLES_INVALID', 'role site-admin needs a site name');
    if (b.role !== 'site-admin' && b.site !== undefined)
      throw badRequest('ROLES_INVALID', `role ${b.role} takes no site`);
  }
}

export class Accounts {
  constructor(
    private readonly db: Db,
    private readonly config: Readonly<Config>,
    private readonly clock: () => Date,
  ) {}

  async createUser(input: NewUser, actor: string): Promise<{ user: UserRecord; totpSecret?: string }> {
    if (!namePattern.test(input.name))
      throw badRequest('NAME_INVALID', 'user name must match [A-Za-z0-9._@-]{1,64}');
    validateRoles(input.roles);
    const endorserIdentity = input.endorserCertificatePem
      ? identityFromCertificate(input.endorserCertificatePem)
      : input.endorserIdentity;
    if (endorserIdentity !== undefined && !/^[0-9a-f]+\|[0-9a-f]+$/.test(endorserIdentity))
      throw badRequest('ENDORSER_IDENTITY_INVALID', 'endorser identity must be hex(issuer)|hex(subject)');
    if (input.roles.some((b) => b.role === 'endorser') && !endorserIdentity)
      throw badRequest('ENDORSER_IDENTITY_REQUIRED', 'an endorser must be bound to a certificate identity');
    if (input.password !== undefined && input.password.length < 12)
      throw badRequest('PASSWORD_TOO_SHORT', 'passwords need at least 12 characters');
    const totpSecret = input.totp ? newTotpSecret() : undefined;
    const user: UserRecord = {
      id: randomBytes(8).toString('hex'),
      name: input.name,
      passwordHash: input.password === undefined ? null : await hashPassword(input.password),
      totpSecret: totpSecret ?? null,
      roles: input.roles,
      endorserIdentity: endorserIdentity ?? null,
      createdAt: this.clock().getTime(),
      disabled: false,
    };
    await this.db.transaction(async (tx) => {
      if (await userByName(tx, user.name)) throw conflict('USER_EXISTS', `user ${user.name} already exists`);
      await insertUser(tx, user);
      await appendAudit(
        this.db,
        tx,
        {
          actor,
          action: 'user.create',
          target: `user:${user.name}`,
          detail: { roles: user.roles, endorserIdentity: user.endorserIdentity, totp: Boolean(totpSecret) },
        },
        this.clock(),
      );
    });
    return totpSecret ? { user, totpSecret } : { user };
  }

  /** Changes roles and/or the disabled flag; a disabled user's tokens stop working at once. */
  async updateUser(
    name: string,
    change: { roles?: RoleBinding[]; disabled?: boolean },
    actor: string,
  ): Promise<UserRecord> {
    if (change.roles) validateRoles(change.roles);
    return this.db.transaction(async (tx) => {
      const current = await userByName(tx, name);
      if (!current) throw notFound(`user ${name}`);
      const updated: UserRecord = {
        ...current,
        roles: change.roles ?? current.roles,
        disabled: change.disabled ?? current.disabled,
      };
      if (updated.roles.some((b) => b.role === 'endorser') && !updated.endorserIdentity)
        throw badRequest('ENDORSER_IDENTITY_REQUIRED', 'an endorser must be bound to a certificate identity');
      await saveUser(tx, updated);
      await appendAudit(
        this.db,
        tx,
        {
          actor,
          action: 'user.update',
          target: `user:${name}`,
          detail: { roles: updated.roles, disabled: updated.disabled },
        },
        this.clock(),
      );
      return updated;
    });
  }

  async createToken(
    user: UserRecord,
    request: { scopes?: string[]; ttlSeconds?: number; label?: string },
    actor: string,
    action = 'token.create',
  ): Promise<{ token: string; record: TokenRecord }> {
    const grantable = grantableScopes(user);
    const wanted = request.scopes ?? grantable;
    for (const s of wanted) {
      if (!(allScopes as readonly string[]).includes(s))
        throw badRequest('SCOPE_INVALID', `unknown scope "${s}"`);
      if (!grantable.includes(s as Scope))
        throw new ApiError(403, 'FORBIDDEN', `user ${user.name} cannot hold scope ${s}`);
    }
    const ttl = request.ttlSeconds ?? this.config.auth.tokenDefaultTtlSeconds;
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > this.config.auth.tokenMaxTtlSeconds)
      throw badRequest('TTL_INVALID', `ttlSeconds must be 1..${this.config.auth.tokenMaxTtlSeconds}`);
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const now = this.clock().getTime();
    const record: TokenRecord = {
      id,
      userId: user.id,
      secretHash: sha256(secret),
      scopes: wanted,
      label: request.label ?? '',
      createdAt: now,
      expiresAt: now + ttl * 1000,
      revokedAt: null,
    };
    await this.db.transaction(async (tx) => {
      await insertToken(tx, record);
      await appendAudit(
        this.db,
        tx,
        {
          actor,
          action,
          target: `user:${user.name}`,
          detail: { tokenId: id, scopes: wanted, expiresAt: record.expiresAt },
        },
        this.clock(),
      );
    });
    return { token: `tsw_${id}.${secret}`, record };
  }

  /** Resolves a bearer token; undefined when unknown, revoked, expired or its user is disabled. */
  async authenticate(bearer: string): Promise<Principal | undefined> {
    const match = tokenPattern.exec(bearer);
    if (!match?.[1] || !match[2]) return undefined;
    const record = await tokenById(this.db, match[1]);
    if (!record || record.revokedAt !== null || record.expiresAt <= this.clock().getTime()) return undefined;
    const expected = Buffer.from(record.secretHash, 'hex');
    const actual = createHash('sha256').update(match[2]).digest();
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
    const user = await userById(this.db, record.userId);
    if (!user || user.disabled) return undefined;
    return { user, scopes: record.scopes as Scope[], tokenId: record.id };
  }

  /** Password (+ TOTP when enrolled) → a session token. One message for every failure. */
  async login(name: string, password: string, totpCode: string | undefined) {
    const user = await userByName(this.db, name);
    const passwordOk = user?.passwordHash ? await verifyPassword(password, user.passwordHash) : false;
    const totpOk = user?.totpSecret
      ? verifyTotp(user.totpSecret, totpCode ?? '', this.clock().getTime())
      : true;
    if (!user || user.disabled || !passwordOk || !totpOk) throw unauthorized('invalid credentials');
    return this.createToken(
      user,
      { ttlSeconds: this.config.auth.sessionTtlSeconds, label: 'session' },
      `user:${user.name}`,
      'auth.login',
    );
  }
}
