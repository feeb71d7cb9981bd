import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configFromEnv, EnvConfigError, envKeys, envName } from '../src/env-config.js';

const schema = z
  .strictObject({
    site: z.string().min(1),
    transfer: z
      .strictObject({
        uploadSlots: z.number().int().default(5),
        pex: z.boolean().default(true),
        bootstrap: z.array(z.string()).default([]),
        signers: z.array(z.strictObject({ subject: z.string() })).default([]),
        mode: z.enum(['a', 'b']).optional(),
      })
      .prefault({}),
  })
  .strict();

describe('env-config', () => {
  it('names every settable key TSW_<PROGRAM>_<KEY PATH>, lists of objects left to the file', () => {
    expect(envName('TSW_AGENT', ['transfer', 'uploadLimitBytesPerSecond'])).toBe(
      'TSW_AGENT_TRANSFER_UPLOAD_LIMIT_BYTES_PER_SECOND',
    );
    expect(envKeys(schema, 'TSW_X').map((k) => `${k.name}:${k.kind}`)).toEqual([
      'TSW_X_SITE:string',
      'TSW_X_TRANSFER_UPLOAD_SLOTS:number',
      'TSW_X_TRANSFER_PEX:boolean',
      'TSW_X_TRANSFER_BOOTSTRAP:list',
      'TSW_X_TRANSFER_MODE:string',
    ]);
  });

  it('reads typed values under its own prefix only; an empty variable is unset', () => {
    const tree = configFromEnv(
      schema,
      'TSW_X',
      {
        TSW_X_SITE: 'S1',
        TSW_X_TRANSFER_UPLOAD_SLOTS: '3',
        TSW_X_TRANSFER_PEX: 'no',
        TSW_X_TRANSFER_BOOTSTRAP: 'a:1, b:2,',
        TSW_X_TRANSFER_MODE: '',
        TSW_Y_TRANSFER_UPLOAD_SLOTS: '9',
        TSW_XY_SITE: 'other program',
        TSW_X_CONFIG: '/etc/x.yaml',
      },
      { reserved: ['TSW_X_CONFIG'] },
    );
    expect(tree).toEqual({ site: 'S1', transfer: { uploadSlots: 3, pex: false, bootstrap: ['a:1', 'b:2'] } });
    expect(schema.parse(tree).transfer.uploadSlots).toBe(3);
  });

  it('writes into the config file as parsed: the environment wins, the rest stays', () => {
    const file = { site: 'FILE', transfer: { uploadSlots: 2, pex: true } };
    const tree = configFromEnv(schema, 'TSW_X', { TSW_X_TRANSFER_UPLOAD_SLOTS: '3' }, { into: file });
    expect(tree).toBe(file);
    expect(file).toEqual({ site: 'FILE', transfer: { uploadSlots: 3, pex: true } });
  });

  it('refuses a misspelt name and a value of the wrong type, naming the variable', () => {
    expect(() => configFromEnv(schema, 'TSW_X', { TSW_X_TRANSFER_UPLOAD_SLOTZ: '3' })).toThrow(
      /^TSW_X_TRANSFER_UPLOAD_SLOTZ: no such setting/,
    );
    expect(() => configFromEnv(schema, 'TSW_X', { TSW_X_TRANSFER_SIGNERS: 'x' })).toThrow(EnvConfigError);
    expect(() => configFromEnv(schema, 'TSW_X', { TSW_X_TRANSFER_UPLOAD_SLOTS: 'five' })).toThrow(
      /^TSW_X_TRANSFER_UPLOAD_SLOTS: expected a number, got "five"$/,
    );
    expect(() => configFromEnv(schema, 'TSW_X', { TSW_X_TRANSFER_PEX: 'maybe' })).toThrow(
      /^TSW_X_TRANSFER_PEX: expected true or false/,
    );
  });
});
