/**
 * The test sidecar's answers as `daprd` writes them: the JSON error bodies with their `errorCode`
 * and details, the texts a store error becomes, and how stored values and expiry times are encoded
 * in an answer.
 */
import type { Failure } from '../stateStore.js'

// -------------------------------------------------------------------------------------
// Dapr's answers
// -------------------------------------------------------------------------------------

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo'

export interface Answer {
  readonly status: number
  readonly body?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}

export const json = (status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): Answer => ({
  status,
  body: JSON.stringify(value),
  headers: { 'content-type': 'application/json', ...headers },
})

export const daprError = (status: number, errorCode: string, message: string, details?: ReadonlyArray<unknown>): Answer =>
  json(status, details === undefined ? { errorCode, message } : { errorCode, message, details })

export const text = (status: number, body: string): Answer => ({ status, body, headers: { 'content-type': 'text/plain; charset=utf-8' } })

export const noContent: Answer = { status: 204 }

export const fallback = (): Answer =>
  daprError(404, 'ERR_DIRECT_INVOKE', 'failed getting app id either from the URL path or the header dapr-app-id')

export const malformed = (message: string): Answer => daprError(400, 'ERR_MALFORMED_REQUEST', message)

/** An ErrorInfo detail, its fields in the order Dapr's encoder writes them. */
export const errorInfo = (reason: string, metadata: Readonly<Record<string, string>> | null) => ({ '@type': ERROR_INFO, domain: 'dapr.io', metadata, reason })

/** The illegal-key error; a transaction names no field in its violation. */
export const illegalKey = (store: string, key: string, field = true): Answer => {
  const message = `api error: code = InvalidArgument desc = input key/keyPrefix '${key}' can't contain '||'`
  return daprError(400, 'ERR_MALFORMED_REQUEST', message, [
    { '@type': 'type.googleapis.com/google.rpc.BadRequest', field_violations: [field ? { field: key, description: message } : { description: message }] },
    { '@type': 'type.googleapis.com/google.rpc.ResourceInfo', description: '', owner: '', resource_name: store, resource_type: 'state' },
    errorInfo('DAPR_STATE_ILLEGAL_KEY', null),
  ])
}

/** A store error as Dapr's `state.ETagError` (or a plain error) renders it, and the status it maps to. */
/** The HTTP status each kind of store error maps to. */
const STATUS: Readonly<Record<Failure['kind'], number>> = { 'etag-mismatch': 409, 'etag-invalid': 400, failed: 500 }

interface StoreErrorText {
  readonly status: number
  readonly text: string
}

export const storeError = (failure: Failure): StoreErrorText => {
  switch (failure.kind) {
    case 'etag-mismatch':
      // Dapr's ETagError without a cause of its own (PostgreSQL's stale etag) is its kind alone.
      return { status: STATUS[failure.kind], text: `possible etag mismatch. error from state store${failure.message === '' ? '' : `: ${failure.message}`}` }
    case 'etag-invalid':
      return { status: STATUS[failure.kind], text: `invalid etag value: ${failure.message}` }
    case 'failed':
      return { status: STATUS[failure.kind], text: failure.message }
  }
}

/**
 * A save of several items runs them in parallel and joins their errors; when every one is an etag
 * error, Dapr wraps the joined error in one more etag error of its own. The status is that of the
 * first etag error in it, if any.
 */
export const joinedError = (failures: ReadonlyArray<Failure>): StoreErrorText => {
  const joined = failures.map((failure) => storeError(failure).text).join('\n')
  if (failures.some((failure) => failure.kind === 'failed')) {
    return { status: STATUS[failures.find((failure) => failure.kind !== 'failed')?.kind ?? 'failed'], text: joined }
  }
  return storeError({ kind: failures.some((failure) => failure.kind === 'etag-invalid') ? 'etag-invalid' : 'etag-mismatch', message: joined })
}

/** Go's JSON encoder writes an embedded raw message compacted and HTML-escaped. */
export const htmlEscaped = (json: string): string =>
  json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

export const rfc3339 = (epochMs: number): string => new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z')
