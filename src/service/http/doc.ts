/** Building blocks of OpenAPI 3.1 operation objects, shared by every route definition and openapi.ts. */
import { z } from 'zod';

export type Json = Record<string, unknown>;

export const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });
export const jsonBody = (schema: Json): Json => ({ 'application/json': { schema } });
export const problem = (description: string): Json => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
export const jsonRequest = (id: string): Json => ({ required: true, content: jsonBody(ref(id)) });
export const locationHeader = (description: string): Json => ({ Location: { description, schema: { type: 'string' } } });
export const anyJson = (description: string): Json => jsonBody({ type: 'object', description });

/** Path or query parameters from the zod object a handler parses `req.params` / `req.query` with. */
export function parametersOf(schema: z.ZodObject, where: 'path' | 'query', descriptions: Record<string, string> = {}): Json[] {
  const js = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    ...(descriptions[name] ? { description: descriptions[name] } : {}),
    schema: s,
  }));
}

export const COMMON_ERRORS: Json = {
  '400': problem('Invalid request (validation, malformed JSON, invalid options)'),
  '401': problem('Missing API key (when WEIGHTSCOPE_API_KEYS is set)'),
  '403': problem('API key not accepted'),
};
export const JSON_BODY_ERRORS: Json = {
  ...COMMON_ERRORS,
  '413': problem('JSON body over its size limit'),
  '415': problem('The body is not application/json'),
};

export const BUSY: Json = {
  ...problem('Too many event streams or uploads open at once (`busy`); retry after Retry-After seconds'),
  headers: { 'Retry-After': { schema: { type: 'integer' } } },
};

/** Raw body (?name=FILE) or multipart upload; `files` = how many file parts the route reads. */
export function uploadBody(files: 'one' | 'many'): Json {
  const file = { type: 'string', contentMediaType: 'application/octet-stream' };
  return {
    required: true,
    content: {
      'application/octet-stream': { schema: file },
      'multipart/form-data': {
        schema:
          files === 'many'
            ? { type: 'object', properties: { name: { type: 'string' }, files: { type: 'array', items: file } } }
            : { type: 'object', properties: { file } },
      },
    },
  };
}
export const nameParam: Json = {
  name: 'name',
  in: 'query',
  required: false,
  description: 'File name for a raw body',
  schema: { type: 'string' },
};
