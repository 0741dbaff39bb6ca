/**
 * The few shapes the configuration schema is built from: a key (a field with its name in Config and what the
 * documentation and change reports say about it), a section of keys (a mapping that refuses unknown keys) and a
 * list of sections. The document's YAML names are snake_case; each key names its Config field.
 */
import * as v from 'valibot';
import { type Field, describe } from './fields.ts';

/** Whether a pushed change applies at once or waits for the next deploy. */
export type Reload = 'reloadable' | 'deploy-only';

export interface About {
  /** What the key does, as docs/configuration.md says it (Markdown, one line). */
  readonly meaning?: string;
  /** A nested key without one has its parent's. */
  readonly reload?: Reload;
  /** Change reports never show its values. */
  readonly secret?: true;
  /** Words after the default in the documentation, e.g. "(unlimited)". */
  readonly note?: string;
  /** The documentation's default column, when the default is not a fixed value. */
  readonly defaultText?: string;
}

export interface Key<S extends v.GenericSchema = v.GenericSchema> extends Field<S> {
  /** The field's name in Config; '' merges a nested section's fields into the parent's. */
  readonly as: string;
  readonly about: About;
  /** The keys of a nested section or of a list's entries. */
  readonly keys?: Keys;
  /** A list's entry key that names an entry: changes are reported as `backends[name].key`. */
  readonly identity?: string;
}

export type Keys = Readonly<Record<string, Key>>;

/** A key of a section: `as` is its field name in Config. */
export function key<const N extends string, const F extends Field & Pick<Key, 'keys' | 'identity'>>(as: N, field: F, about: About = {}) {
  return { ...field, as, about };
}

type Out<S extends v.GenericSchema> = Exclude<v.InferOutput<S>, null>;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type Named<E extends Keys> = { -readonly [K in keyof E as E[K]['as'] extends '' ? never : E[K]['as']]: Out<E[K]['schema']> };
type Merged<E extends Keys> = UnionToIntersection<{ [K in keyof E]: E[K]['as'] extends '' ? Out<E[K]['schema']> : never }[keyof E]>;
/** A section's value in Config: each key under its Config name. */
export type SectionOutput<E extends Keys> = Named<E> & Merged<E>;
/** A section's value as the document names it, once each key is read. */
export type SectionDocument<E extends Keys> = { [K in keyof E]: Out<E[K]['schema']> };

/** A rule between a section's keys, run once each is valid: `problem` says what is wrong with `key`, if anything. */
export interface SectionCheck<E extends Keys> {
  key: keyof E & string;
  problem: (doc: SectionDocument<E>) => string | undefined;
}

/** A mapping of `keys` that refuses unknown keys and becomes its Config value. */
function mapping<const E extends Keys>(keys: E, checks: readonly SectionCheck<E>[] = []) {
  const entries: Record<string, v.GenericSchema> = Object.fromEntries(Object.entries(keys).map(([name, k]) => [name, k.schema]));
  const message = (issue: v.BaseIssue<unknown>) => {
    const missing = issue.path?.[0]?.key;
    if (issue.expected === 'Object' || typeof missing !== 'string') return `must be a mapping, got ${describe(issue.input)}`;
    return keys[missing]?.required ?? 'is required';
  };
  const unknownKey = `unknown key (expected one of: ${Object.keys(keys).join(', ')})`;
  return v.pipe(
    v.objectWithRest(entries, v.never(unknownKey), message),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const doc = dataset.value;
      for (const check of checks) {
        const problem = check.problem(doc as SectionDocument<E>);
        if (problem) addIssue({ message: problem, path: [{ type: 'object', origin: 'value', input: doc, key: check.key, value: doc[check.key] }] });
      }
    }),
    v.transform((doc) => rename(keys, doc) as SectionOutput<E>),
  );
}

function rename(keys: Keys, doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, k] of Object.entries(keys)) {
    const value = doc[name] ?? undefined;
    if (k.as === '') Object.assign(out, value);
    else out[k.as] = value;
  }
  return out;
}

/** A section that may be left out (or null): then every key takes its default. */
export function section<const E extends Keys>(keys: E, ...checks: readonly SectionCheck<E>[]) {
  return { schema: v.nullish(mapping(keys, checks), {}), keys } satisfies Field & Pick<Key, 'keys'>;
}

/** `field` with its Config value finished by `finish`, for a default that depends on another key. */
export function finished<S extends v.GenericSchema, K extends Pick<Key, 'keys'>, R>(field: { schema: S } & K, finish: (value: v.InferOutput<S>) => R) {
  return { ...field, schema: v.pipe(field.schema, v.transform(finish)) };
}

/** A section that is used only when it has keys: left out, null or `{}`, it is undefined. */
export function optionalSection<const E extends Keys>(keys: E) {
  const isEmpty = (value: unknown) => value !== null && typeof value === 'object' && Object.keys(value).length === 0;
  const schema = v.nullish(v.pipe(v.unknown(), v.transform((value) => (isEmpty(value) ? undefined : value)), v.nullish(mapping(keys))));
  return { schema, keys } satisfies Field & Pick<Key, 'keys'>;
}

const LIST_REQUIRED = 'is required (a list with at least one entry)';

/** A list of at least one mapping of `keys`, each entry named by its `identity` key. */
export function list<const E extends Keys>(keys: E, identity: keyof E & string) {
  const message = (issue: v.BaseIssue<unknown>) => (issue.input === null || issue.input === undefined ? LIST_REQUIRED : `must be a list, got ${describe(issue.input)}`);
  const schema = v.pipe(v.array(mapping(keys), message), v.minLength(1, 'must have at least one entry'));
  return { schema, keys, identity, required: LIST_REQUIRED } satisfies Field & Pick<Key, 'keys' | 'identity'>;
}

/**
 * A list of mappings of `keys` that may be empty or left out (then `[]`), changed as a whole: a change report
 * shows it as `show` writes it, and a push replaces it entirely. `identity` names the entries in the
 * documentation's paths only (it need not be unique: rules that span the list are checked by the document).
 */
export function optionalList<const E extends Keys>(keys: E, identity: keyof E & string, show: (entries: readonly SectionOutput<E>[]) => string) {
  const schema = v.nullish(v.array(mapping(keys), (issue: v.BaseIssue<unknown>) => `must be a list, got ${describe(issue.input)}`), []);
  return { schema, keys, identity, show: (value: unknown) => show(value as SectionOutput<E>[]) } satisfies Field & Pick<Key, 'keys' | 'identity'>;
}
