/** Labelled form inputs that show their field's validation message. */
import { useId, type ReactNode } from 'react';
import type { FieldErrors } from '../forms.js';

interface InputProps {
  label: string;
  /** The field's wire name (its messages are looked up under it). */
  name: string;
  value: string;
  onChange: (v: string) => void;
  errors: FieldErrors;
  type?: 'text' | 'number';
  step?: string;
  placeholder?: string;
  hint?: ReactNode;
}

/** A labelled text or number input. */
export function InputField(p: InputProps) {
  const err = p.errors[p.name];
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{p.label}</label>
      <input
        id={id}
        name={p.name}
        type={p.type ?? 'text'}
        step={p.step}
        value={p.value}
        placeholder={p.placeholder}
        aria-invalid={err !== undefined}
        aria-describedby={err !== undefined ? `${id}-err` : undefined}
        onChange={(e) => p.onChange(e.target.value)}
      />
      {p.hint !== undefined && err === undefined && <span className="muted">{p.hint}</span>}
      {err !== undefined && (
        <span className="field-error" id={`${id}-err`}>
          {err}
        </span>
      )}
    </div>
  );
}

/** A labelled select of `options` (value, label). */
export function SelectField(p: {
  label: string;
  name: string;
  value: string;
  onChange: (v: string) => void;
  options: { value: string; label: string }[];
  errors?: FieldErrors;
  placeholder?: string;
}) {
  const err = p.errors?.[p.name];
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{p.label}</label>
      <select
        id={id}
        name={p.name}
        value={p.value}
        aria-invalid={err !== undefined}
        onChange={(e) => p.onChange(e.target.value)}
      >
        {p.placeholder !== undefined && <option value="">{p.placeholder}</option>}
        {p.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {err !== undefined && <span className="field-error">{err}</span>}
    </div>
  );
}

/** The form-wide message of `errors`, if any. */
export function FormError({ errors }: { errors: FieldErrors }) {
  return errors[''] !== undefined ? (
    <div className="form-error" role="alert">
      {errors['']}
    </div>
  ) : null;
}
