/**
 * Labelled form inputs that show their field's validation message (among them the choice of a
 * completed dataset or model), and a form's submit button.
 */
import { useId, type ReactNode } from 'react';
import { datasetLabel, modelLabel } from '../data.js';
import type { FieldBinding, FieldErrors } from '../forms.js';
import type { AsyncState } from '../use-async.js';
import type { DatasetList } from '../../../src/contract/datasets.js';
import type { ModelListWire } from '../../../src/contract/models.js';

interface InputProps extends FieldBinding {
  label: string;
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

/** Props of a form's choice of one item of a list that loads. */
interface ChoiceProps<L> {
  value: string;
  onChange: (v: string) => void;
  errors: FieldErrors;
  /** The list to choose from. */
  list: AsyncState<L>;
}

/**
 * A labelled select of the completed items of `list` (datasets, models), for a form that works on
 * one; its placeholder says whether the list is loading, has no completed item yet, or to choose.
 */
function CompletedSelectField<T extends { id: string; status: string }>(
  p: ChoiceProps<{ items: readonly T[] }> & {
    label: string;
    name: string;
    /** What an item is called (`dataset`), for the placeholder. */
    noun: string;
    /** An item's label in the select. */
    optionLabel: (item: T) => string;
  },
) {
  const completed = p.list.data?.items.filter((x) => x.status === 'completed') ?? [];
  return (
    <SelectField
      label={p.label}
      name={p.name}
      value={p.value}
      onChange={p.onChange}
      errors={p.errors}
      placeholder={
        p.list.loading
          ? `loading ${p.noun}s…`
          : completed.length === 0
            ? `no completed ${p.noun} yet`
            : `choose a ${p.noun}`
      }
      options={completed.map((x) => ({ value: x.id, label: p.optionLabel(x) }))}
    />
  );
}

/** A form's dataset, sent as `dataset_id`: one of the completed datasets of `list`. */
export function DatasetSelectField(p: ChoiceProps<DatasetList>) {
  return (
    <CompletedSelectField
      {...p}
      label="Dataset"
      name="dataset_id"
      noun="dataset"
      optionLabel={datasetLabel}
    />
  );
}

/** A form's model, sent as `model_id`: one of the completed models of `list`. */
export function ModelSelectField(p: ChoiceProps<ModelListWire>) {
  return <CompletedSelectField {...p} label="Model" name="model_id" noun="model" optionLabel={modelLabel} />;
}

/** A form's submit button: disabled, and saying `busyLabel`, while its request is under way. */
export function SubmitButton(p: { label: string; busyLabel: string; busy: boolean }) {
  return (
    <button type="submit" disabled={p.busy}>
      {p.busy ? p.busyLabel : p.label}
    </button>
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
