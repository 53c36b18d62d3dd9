/**
 * Response schemas as the serializer is given them. fast-json-stringify writes an `anyOf` by validating the value
 * against each branch with Ajv, and compiles those validators lazily: the first response of a route that reaches a
 * union paid the compilation on the event loop (126 and 165 ms for the first CreateJobRun and CreateJob responses on
 * a fresh server here, which made the first request of every client of a burst wait behind them: benchmark 10's
 * burst p99), and every later response still ran the validators. Compiling them all at start instead
 * (`compileValidators`) cost ~1.2 s of CPU per server start. The unions of the wire schemas are of three plain kinds
 * that the serializer writes without any validator once rewritten:
 *
 * - literals (`lifecycleState`): `enum` of the literals' type;
 * - a schema or null (`Opt(object)`): that schema with `nullable: true`;
 * - scalars (a tag value: string, number or boolean): a `type` list.
 *
 * The output is the same for every value the schema allows; only a value outside the union is no longer refused at
 * serialization (the service builds them, the request validation and the OpenAPI document keep the unions).
 */

import type { FastifySchema, RouteOptions } from 'fastify';

type Schema = Record<string, unknown>;

/** Keys whose values are data, not schemas. */
const DATA_KEYS = new Set(['const', 'enum', 'default', 'examples', 'example', 'required']);
/** What a scalar branch may carry and still be written as one entry of a `type` list. */
const SCALAR_KEYS = new Set(['type', 'description', 'title', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']);
const SCALARS = new Set(['string', 'number', 'integer', 'boolean', 'null']);

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

function literalUnion(members: Schema[]): Schema | null {
  if (!members.every((m) => m.const !== undefined && ['string', 'number', 'boolean'].includes(typeof m.const) && Object.keys(m).every((k) => k === 'const' || k === 'type' || k === 'description'))) return null;
  const types = [...new Set(members.map((m) => (typeof m.const === 'number' ? (Number.isInteger(m.const) ? 'integer' : 'number') : typeof m.const)))];
  return { type: types.length === 1 ? types[0] : types, enum: members.map((m) => m.const) };
}

function nullableUnion(members: Schema[]): Schema | null {
  if (members.length !== 2) return null;
  const i = members.findIndex((m) => m.type === 'null' && Object.keys(m).every((k) => k === 'type' || k === 'description'));
  if (i < 0) return null;
  const other = members[1 - i]!;
  // A $ref's siblings are dropped when the serializer resolves it, and a nested union needs its validators anyway.
  if (other.$ref !== undefined || other.anyOf !== undefined || other.oneOf !== undefined || other.allOf !== undefined || Array.isArray(other.type)) return null;
  return { ...other, nullable: true };
}

function scalarUnion(members: Schema[]): Schema | null {
  if (!members.every((m) => typeof m.type === 'string' && SCALARS.has(m.type) && m.format === undefined && Object.keys(m).every((k) => SCALAR_KEYS.has(k)))) return null;
  return { type: [...new Set(members.map((m) => m.type as string))] };
}

/** A copy of `schema` whose plain unions are rewritten as above (the input is not changed). */
export function forSerialization<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((s) => forSerialization(s)) as T;
  if (!isSchema(schema)) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) out[k] = DATA_KEYS.has(k) ? v : forSerialization(v);
  const members = out.anyOf;
  if (!Array.isArray(members) || !members.every(isSchema) || out.oneOf !== undefined || out.allOf !== undefined) return out as T;
  const plain = literalUnion(members) ?? nullableUnion(members) ?? scalarUnion(members);
  if (!plain) return out as T;
  const { anyOf: _union, ...siblings } = out;
  return { ...siblings, ...plain } as T;
}

/**
 * Installed as an onRoute hook: each route's response schemas are serialized from `forSerialization`'s rewrite,
 * while the OpenAPI document (`written`, its transform) keeps the schemas as the routes wrote them.
 */
export class ResponseSchemas {
  private readonly byRewrite = new WeakMap<object, FastifySchema>();

  readonly onRoute = (route: RouteOptions): void => {
    if (!route.schema?.response) return;
    const written = route.schema;
    route.schema = { ...written, response: forSerialization(written.response) };
    this.byRewrite.set(route.schema, written);
  };

  written(schema: FastifySchema): FastifySchema {
    return this.byRewrite.get(schema) ?? schema;
  }
}
