// Users and API tokens. Passwords and token secrets arrive here already hashed.
import type { SqlExecutor } from './db.js';

export const roles = ['admin', 'endorser', 'site-admin', 'reader'] as const;
export type Role = (typeof roles)[number];
export interface RoleBinding {
  role: Role;
  /** Only for site-admin: the site it administers. */
  site?: string;
}

export interface UserRecord {
  id: string;
  name: string;
  passwordHash: string | null;
  totpSecret: string | null;
  roles: RoleBinding[];
  /** Endorser certificate identity (hex issuer DER + '|' + hex subject DER). */
  endorserIdentity: string | null;
  createdAt: number;
  disabled: boolean;
}

export interface TokenRecord {
  id: string;
  userId: string;
  secretHash: string;
  scopes: string[];
  label: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

interface UserRow {
  id: string;
  name: string;
  password_hash: string | null;
  totp_secret: string | null;
  roles: string;
  endorser_identity: string | null;
  created_at: number;
  disabled: number;
}

interface TokenRow {
  id: string;
  user_id: string;
  secret_hash: string;
  scopes: string;
  label: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  name: r.name,
  passwordHash: r.password_hash,
  totpSecret: r.totp_secret,
  roles: JSON.parse(r.roles) as RoleBinding[],
  endorserIdentity: r.endorser_identity,
  createdAt: Number(r.created_at),
  disabled: Number(r.disabled) === 1,
});

const toToken = (r: TokenRow): TokenRecord => ({
  id: r.id,
  userId: r.user_id,
  secretHash: r.secret_hash,
  scopes: JSON.parse(r.scopes) as string[],
  label: r.label,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
});

export async function insertUser(db: SqlExecutor, u: UserRecord): Promise<void> {
  await db.run(
    'INSERT INTO users (id, name, password_hash, totp_secret, roles, endorser_identity, created_at, disabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [
      u.id,
      u.name,
      u.passwordHash,
      u.totpSecret,
      JSON.stringify(u.roles),
      u.endorserIdentity,
      u.createdAt,
      u.disabled ? 1 : 0,
    ],
  );
}

export async function updateUser(db: SqlExecutor, u: UserRecord): Promise<void> {
  await db.run(
    'UPDATE users SET password_hash = ?, totp_secret = ?, roles = ?, endorser_identity = ?, disabled = ? WHERE id = ?',
    [u.passwordHash, u.totpSecret, JSON.stringify(u.roles), u.endorserIdentity, u.disabled ? 1 : 0, u.id],
  );
}

export async function userByName(db: SqlExecutor, name: string): Promise<UserRecord | undefined> {
  const row = await db.get<UserRow>('SELECT * FROM users WHERE name = ?', [name]);
  return row && toUser(row);
}

export async function userById(db: SqlExecutor, id: string): Promise<UserRecord | undefined> {
  const row = await db.get<UserRow>('SELECT * FROM users WHERE id = ?', [id]);
  return row && toUser(row);
}

export async function listUsers(db: SqlExecutor): Promise<UserRecord[]> {
  return (await db.all<UserRow>('SELECT * FROM users ORDER BY name')).map(toUser);
}

export async function insertToken(db: SqlExecutor, t: TokenRecord): Promise<void> {
  await db.run(
    'INSERT INTO tokens (id, user_id, secret_hash, scopes, label, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [t.id, t.userId, t.secretHash, JSON.stringify(t.scopes), t.label, t.createdAt, t.expiresAt, t.revokedAt],
  );
}

export async function tokenById(db: SqlExecutor, id: string): Promise<TokenRecord | undefined> {
  const row = await db.get<TokenRow>('SELECT * FROM tokens WHERE id = ?', [id]);
  return row && toToken(row);
}

export async function tokensOfUser(db: SqlExecutor, userId: string): Promise<TokenRecord[]> {
  return (await db.all<TokenRow>('SELECT * FROM tokens WHERE user_id = ? ORDER BY created_at', [userId])).map(
    toToken,
  );
}

export async function revokeToken(db: SqlExecutor, id: string, at: number): Promise<boolean> {
  const { changes } = await db.run('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [
    at,
    id,
  ]);
  return changes > 0;
}
