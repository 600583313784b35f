import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { ValidationError } from '../../src/core/errors.js';

describe('loadConfig: bad values', () => {
  it('names the variable, what it must be, and what it was', () => {
    expect(() => loadConfig({}, { PORT: 'eighty' })).toThrow(ValidationError);
    expect(() => loadConfig({}, { PORT: 'eighty' })).toThrow(
      'PORT must be an integer in [0, 65535]; got "eighty"',
    );
    expect(() => loadConfig({}, { PORT: '70000' })).toThrow(
      'PORT must be an integer in [0, 65535]; got "70000"',
    );
    expect(() => loadConfig({}, { BODY_LIMIT: 'lots' })).toThrow(/BODY_LIMIT must be a size in bytes/);
    expect(() => loadConfig({}, { BODY_LIMIT: '1000mb' })).toThrow(
      /BODY_LIMIT must be at most 67108864 bytes/,
    );
    expect(() => loadConfig({}, { TADS_PG_PORT: '5432' })).toThrow(/TADS_PG_PORT must not be 5432/);
    expect(() => loadConfig({}, { GENERATOR_ADDRESS: 'nowhere' })).toThrow(
      /GENERATOR_ADDRESS must be host:port/,
    );
    expect(() => loadConfig({}, { TADS_PG_POOL: '2' })).toThrow(
      'TADS_PG_POOL must be an integer in [3, 1000]; got "2"',
    );
    expect(() => loadConfig({}, { TADS_PG_ACQUIRE_TIMEOUT_MS: '0' })).toThrow(
      'TADS_PG_ACQUIRE_TIMEOUT_MS must be an integer in [1, 600000]; got "0"',
    );
    expect(() => loadConfig({}, { TADS_PG_QUERY_TIMEOUT_MS: '1.5' })).toThrow(
      'TADS_PG_QUERY_TIMEOUT_MS must be an integer in [0, 3600000]; got "1.5"',
    );
  });

  it('never shows the database URL in messages', () => {
    const attempt = () => loadConfig({}, { DATABASE_URL: 'mysql://root:hunter2@db/x' });
    expect(attempt).toThrow('DATABASE_URL must be a postgres:// URL; got (hidden)');
    expect(attempt).not.toThrow(/hunter2/);
  });
});

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({}, {});
    expect(c).toEqual({
      port: 8080,
      host: '127.0.0.1',
      dataDir: '.tads',
      embeddedPgPort: 54329,
      generatorPort: 50051,
      generatorAddress: '127.0.0.1:50051',
      bodyLimit: 1024 * 1024,
      corsOrigins: [],
      inferenceRunsKeep: 10_000,
      allowedHosts: ['localhost', '127.0.0.1', '[::1]'],
      pgPool: 10,
      pgAcquireTimeoutMs: 5000,
      pgQueryTimeoutMs: 30_000,
    });
    expect(c.databaseUrl).toBeUndefined();
  });

  it('takes explicit options over the environment over defaults, and keeps the URL out of logs', () => {
    const env = {
      PORT: '9000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u:secret@h:5432/d',
      BODY_LIMIT: '512kb',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      GENERATOR_PORT: '6000',
    };
    const c = loadConfig({ port: 7000, pgQueryTimeoutMs: 0 }, { ...env, TADS_PG_POOL: '20' });
    expect(c.port).toBe(7000);
    expect(c.pgPool).toBe(20);
    expect(c.pgQueryTimeoutMs).toBe(0);
    expect(c.host).toBe('0.0.0.0');
    expect(c.bodyLimit).toBe(512 * 1024);
    expect(c.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.generatorAddress).toBe('0.0.0.0:6000');
    expect(c.databaseUrl).toBe('postgres://u:secret@h:5432/d');
    expect(JSON.stringify(c)).not.toContain('secret');
    expect(loadConfig({ databaseUrl: 'postgres://x@y/z' }, env).databaseUrl).toBe('postgres://x@y/z');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({}, { PORT: '', DATABASE_URL: '' })).toMatchObject({
      port: 8080,
      databaseUrl: undefined,
    });
  });
});
