/**
 * Fault 8 of the review: uWebSockets.js binds with SO_REUSEPORT, so a second `tads serve` on a
 * port already in use started silently and the kernel split the connections between the two. The
 * API now binds the port exclusively: a second server on it refuses to start, saying why.
 */
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger, type ApiDeps } from '../../src/api/deps.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config/env.js';

const open: ApiServer[] = [];
afterAll(async () => {
  for (const s of open) await s.close();
});

/** A port free right now (the kernel's pick for a throwaway listener). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function depsOn(port: number): ApiDeps {
  return { config: loadConfig({ host: '127.0.0.1', port }, {}), log: silentLogger } as unknown as ApiDeps;
}

describe('a second API server on a port in use', () => {
  it('refuses to start, naming the port, while the first keeps it', async () => {
    // A fixed port, as `tads serve` uses: the kernel shares one bound with SO_REUSEPORT.
    const first = await startApiServer({ deps: depsOn(await freePort()), groups: [] });
    open.push(first);
    await expect(startApiServer({ deps: depsOn(first.port), groups: [] })).rejects.toThrow(
      `the API cannot listen on 127.0.0.1:${first.port}: the port is in use (or not allowed)`,
    );
    const answer = await fetch(`${first.url}/nothing-here`);
    expect(answer.status).toBe(404);
  });

  it('can take the port again once the first has closed', async () => {
    const port = await freePort();
    const first = await startApiServer({ deps: depsOn(port), groups: [] });
    await first.close();
    const again = await startApiServer({ deps: depsOn(port), groups: [] });
    open.push(again);
    expect(again.port).toBe(port);
  });
});
