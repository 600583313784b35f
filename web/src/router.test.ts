// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { BASE, hrefOf, tabOf } from './router.js';

describe('router', () => {
  it('maps each tab to its own path under the base', () => {
    expect(hrefOf('alerts')).toBe(`${BASE}alerts`);
    expect(tabOf(`${BASE}alerts`)).toBe('alerts');
    expect(tabOf(`${BASE}models/`)).toBe('models');
    expect(tabOf(BASE)).toBe('control');
    expect(tabOf(`${BASE}nowhere`)).toBeNull();
  });

  it('keeps query parameters, leaving out empty ones', () => {
    expect(hrefOf('analytics', { dataset: 'd', host: '', from: undefined })).toBe(
      `${BASE}analytics?dataset=d`,
    );
  });
});
