/**
 * Form helpers: turning zod issues and the API's invalid-input details into per-field messages,
 * and submitting a form checked against the contract's schema.
 */
import { useState, type Dispatch, type FormEvent, type SetStateAction } from 'react';
import type { z } from 'zod';
import { ApiError } from '../../src/client/index.js';

/** Messages by field name (the first element of each issue's path); '' holds form-wide ones. */
export type FieldErrors = Record<string, string>;

/** The first message of each field of a failed parse. */
export function fieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '';
    const field = key.split('.')[0] ?? '';
    out[field] ??= issue.message;
  }
  return out;
}

/**
 * Field messages of an API error: an invalid-input answer's `details.issues` (`body.host_count`
 * → `host_count`), else the error's message form-wide.
 */
export function apiFieldErrors(err: unknown): FieldErrors {
  if (err instanceof ApiError && err.code === 'invalid_input') {
    const issues = (err.details as { issues?: unknown } | null)?.issues;
    if (Array.isArray(issues) && issues.length > 0) {
      const out: FieldErrors = {};
      for (const i of issues as { path?: unknown; message?: unknown }[]) {
        const path = typeof i.path === 'string' ? i.path.replace(/^body\.?/, '') : '';
        const field = path.split('.')[0] ?? '';
        if (typeof i.message === 'string') out[field] ??= i.message;
      }
      if (Object.keys(out).length > 0) return out;
    }
  }
  return { '': err instanceof Error ? err.message : String(err) };
}

/** A number input's text as a number: undefined when blank, NaN when not a number. */
export function numberOrUndefined(text: string): number | undefined {
  const t = text.trim();
  return t === '' ? undefined : Number(t);
}

/** An input's binding to a form's field: wire name, value, change handler, the form's messages. */
export interface FieldBinding {
  /** The field's wire name (its messages are looked up under it). */
  name: string;
  value: string;
  onChange: (v: string) => void;
  errors: FieldErrors;
}

/**
 * Binds a form's inputs to its text fields, held in `values` by wire name: `field(name)` is what
 * an input of field `name` needs, its changes going to `setValues`.
 */
export function bindFields<F extends { [K in keyof F]: string }>(
  values: F,
  setValues: Dispatch<SetStateAction<F>>,
  errors: FieldErrors,
): (name: keyof F & string) => FieldBinding {
  return (name) => ({
    name,
    value: values[name],
    onChange: (v) => setValues((s) => ({ ...s, [name]: v })),
    errors,
  });
}

/** A form's body once it passes the contract's schema, or the messages to show instead. */
export type Checked<B> = { ok: true; body: B } | { ok: false; errors: FieldErrors };

/**
 * `body` checked against `schema`: the body itself, typed as the request, when it passes (what is
 * sent is what the form built, not the parse's output), else the first message of each field with
 * `more(error)` over them (friendlier words for a field the schema's message does not help with).
 */
export function checkBody<S extends z.ZodType>(
  schema: S,
  body: unknown,
  more?: (error: z.ZodError) => FieldErrors,
): Checked<z.input<S>> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, body: body as z.input<S> };
  return { ok: false, errors: { ...fieldErrors(parsed.error), ...more?.(parsed.error) } };
}

/** A form's submission: its messages, whether its request is under way, and what it answered. */
export interface Submission<R> {
  /** Messages by field, from the check or from the API's refusal. */
  errors: FieldErrors;
  /** Shows messages outside a submission (a form's own button that fails). */
  setErrors: (errors: FieldErrors) => void;
  /** True while the request is under way. */
  busy: boolean;
  /** What the latest request answered; cleared when the form is submitted again. */
  result: R | undefined;
  /** The form's `onSubmit`. */
  onSubmit: (e: FormEvent) => void;
}

/**
 * Submitting a form: `check` turns its fields into the body to send or the messages to show; a
 * body goes to `send` with the form busy meanwhile, and an API refusal lands next to its fields.
 */
export function useSubmit<B, R = void>(
  check: () => Checked<B>,
  send: (body: B) => Promise<R>,
): Submission<R> {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ value: R } | undefined>(undefined);

  const submit = async () => {
    setResult(undefined);
    const checked = check();
    if (!checked.ok) {
      setErrors(checked.errors);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      setResult({ value: await send(checked.body) });
    } catch (err) {
      setErrors(apiFieldErrors(err));
    } finally {
      setBusy(false);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void submit();
  };
  return { errors, setErrors, busy, result: result?.value, onSubmit };
}

/** `fields` without its undefined ones: a blank input leaves its field to the API's default. */
export function withoutBlanks(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/**
 * `message` for `field` when its choice is blank, else nothing: for a select whose schema message
 * would speak of the id's format.
 */
export function unchosen(field: string, value: string, message: string): FieldErrors {
  return value === '' ? { [field]: message } : {};
}
