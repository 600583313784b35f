/**
 * Real data for the tests: one machine of the Server Machine Dataset (machine-2-1), shipped
 * gzip-compressed in test/fixtures/smd (see its README.md), so that a fresh clone runs every test.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGunzip, gunzipSync } from 'node:zlib';

/** The folder of the shipped machine: `train/`, `test/`, `test_label/`, each `<machine>.txt.gz`. */
export const SMD_FIXTURE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/smd');

/** The machine that ships with the tests. */
export const SMD_MACHINE = 'machine-2-1';

/** The gzip-compressed file of one part of the shipped machine. */
export function smdFile(part: 'train' | 'test' | 'test_label'): string {
  return resolve(SMD_FIXTURE_DIR, part, `${SMD_MACHINE}.txt.gz`);
}

/** One part of the shipped machine, unpacked. */
export function readSmd(part: 'train' | 'test' | 'test_label'): Buffer {
  return gunzipSync(readFileSync(smdFile(part)));
}

/** One part of the shipped machine as a stream of unpacked chunks of about `chunk` bytes. */
export function smdStream(part: 'train' | 'test' | 'test_label', chunk = 65_536): Readable {
  return createReadStream(smdFile(part), { highWaterMark: chunk }).pipe(createGunzip({ chunkSize: chunk }));
}
