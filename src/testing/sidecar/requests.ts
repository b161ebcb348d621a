/**
 * Request bodies as the test sidecar decodes them: the items of a save as Go's JSON decoder
 * accepts them into `state.SetRequest`, with its error texts.
 */
import { goTypeName } from '../goJson.js'
import type { SetRequest } from '../stateStore.js'

/** Go decodes option field names without JSON tags case-insensitively. */
export const field = (object: Record<string, unknown>, name: string): unknown => {
  for (const key of Object.keys(object)) if (key.toLowerCase() === name.toLowerCase()) return object[key]
  return undefined
}

export class Malformed extends Error {}

export const typeName = goTypeName

/** One item of a save body, as Go's decoder would accept it into `state.SetRequest`. */
export const setRequest = (raw: unknown, extra: Readonly<Record<string, string>>): SetRequest & { readonly hasKey: boolean } => {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Malformed(`json: cannot unmarshal ${typeName(raw)} into Go value of type state.SetRequest`)
  }
  const item = raw as Record<string, unknown>
  const key = item['key'] ?? ''
  if (typeof key !== 'string') throw new Malformed(`json: cannot unmarshal ${typeName(key)} into Go struct field SetRequest.key of type string`)
  const etag = item['etag']
  if (etag !== undefined && etag !== null && typeof etag !== 'string') {
    throw new Malformed(`json: cannot unmarshal ${typeName(etag)} into Go struct field SetRequest.etag of type string`)
  }
  const metadata: Record<string, string> = {}
  const rawMetadata = item['metadata']
  if (rawMetadata !== undefined && rawMetadata !== null) {
    if (typeof rawMetadata !== 'object' || Array.isArray(rawMetadata)) {
      throw new Malformed(`json: cannot unmarshal ${typeName(rawMetadata)} into Go struct field SetRequest.metadata of type map[string]string`)
    }
    for (const [name, value] of Object.entries(rawMetadata)) {
      if (typeof value !== 'string') {
        throw new Malformed(`json: cannot unmarshal ${typeName(value)} into Go struct field SetRequest.metadata of type string`)
      }
      metadata[name] = value
    }
  }
  Object.assign(metadata, extra)
  const options = (item['options'] ?? {}) as Record<string, unknown>
  const concurrency = typeof options === 'object' && options !== null ? field(options, 'concurrency') : undefined
  const consistency = typeof options === 'object' && options !== null ? field(options, 'consistency') : undefined
  return {
    key,
    hasKey: key !== '',
    value: item['value'] ?? null,
    etag: typeof etag === 'string' ? etag : undefined,
    metadata,
    concurrency: typeof concurrency === 'string' ? concurrency : undefined,
    consistency: typeof consistency === 'string' ? consistency : undefined,
  }
}
