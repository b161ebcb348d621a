/**
 * What the test sidecar answers on each route once a request is routed: the health probes, the
 * metadata, and the state endpoints (get, save, delete, bulk get, transaction) over its stores, with
 * the status codes, error bodies and headers of `daprd`.
 */
import type { IncomingMessage } from 'node:http'
import { DAPR_VERSION } from '../daprd.js'
import { goDecode } from '../goJson.js'
import type { Failure, Operation, SetRequest, StateStore } from '../stateStore.js'
import type { Answer } from './answers.js'
import { daprError, errorInfo, fallback, htmlEscaped, illegalKey, joinedError, json, malformed, noContent, rfc3339, storeError } from './answers.js'
import { Malformed, field, setRequest, typeName } from './requests.js'
import type { Matched } from './routing.js'
import { queryMetadata } from './routing.js'

/** The answer to a routed request, from the app id, the stores, and whether the sidecar is ready now. */
export const endpoints = (
  appId: string,
  stores: ReadonlyMap<string, StateStore>,
  ready: () => boolean,
  /** The pub/sub components, as `/v1.0/metadata` lists them. */
  pubsubs: ReadonlyArray<Readonly<Record<string, unknown>>> = [],
): ((matched: Matched, query: URLSearchParams, headers: IncomingMessage['headers'], body: string) => Answer) => {
  const storeCheck = (store: string): Answer | undefined => {
    if (stores.size === 0) {
      return daprError(500, 'ERR_STATE_STORE_NOT_CONFIGURED', `state store ${store} is not configured`, [errorInfo('DAPR_STATE_NOT_CONFIGURED', { appID: appId })])
    }
    if (!stores.has(store)) {
      return daprError(400, 'ERR_STATE_STORE_NOT_FOUND', `state store ${store} is not found`, [errorInfo('DAPR_STATE_NOT_FOUND', { appID: appId })])
    }
    return undefined
  }

  const handle = (matched: Matched, query: URLSearchParams, headers: IncomingMessage['headers'], body: string): Answer => {
    switch (matched.route) {
      case 'healthz':
        return ready() ? noContent : daprError(500, 'ERR_HEALTH_NOT_READY', 'dapr is not ready: [test sidecar set not ready]')
      case 'outbound':
        return ready() ? noContent : daprError(500, 'ERR_OUTBOUND_HEALTH_NOT_READY', 'dapr outbound is not ready')
      case 'metadata':
        return json(200, {
          id: appId,
          runtimeVersion: `${DAPR_VERSION}-test-sidecar`,
          enabledFeatures: [],
          components: [
          ...[...stores].map(([name, store]) => ({
            name,
            type: store.component.type,
            version: store.component.version ?? 'v1',
            capabilities: store.component.capabilities,
          })),
          ...pubsubs,
          ],
          extended: { 'dapr-state-cache': 'test sidecar' },
        })
      case 'fallback':
      case 'publish': // the sidecar's bus answers it
        return fallback()
    }
    const storeName = matched.store ?? ''
    const refused = storeCheck(storeName)
    if (refused !== undefined) return refused
    const store = stores.get(storeName) as StateStore
    const extra = queryMetadata(query)
    switch (matched.route) {
      case 'get': {
        const key = matched.key ?? ''
        if (key.includes('||')) return illegalKey(storeName, key)
        const item = store.get(key)
        if (item === undefined) return noContent
        const itemHeaders: Record<string, string> = { 'content-type': 'application/json', etag: item.etag }
        if (item.expiresAt !== undefined && store.component.reportsExpireTime) itemHeaders['metadata.ttlExpireTime'] = rfc3339(item.expiresAt)
        return { status: 200, body: item.data, headers: itemHeaders }
      }
      case 'delete': {
        const key = matched.key ?? ''
        if (key.includes('||')) return illegalKey(storeName, key)
        const ifMatch = headers['if-match']
        const options = { concurrency: query.get('concurrency') ?? undefined, consistency: query.get('consistency') ?? undefined }
        const failure = store.delete(key, typeof ifMatch === 'string' && ifMatch !== '' ? ifMatch : undefined, options)
        if (failure === undefined) return noContent
        const { status, text } = storeError(failure)
        return daprError(status, 'ERR_STATE_DELETE', `failed deleting state with key ${key}: ${text}`)
      }
      case 'save': {
        let items: ReadonlyArray<SetRequest & { hasKey: boolean }>
        const decoded = goDecode(body)
        if ('error' in decoded) return malformed(decoded.error)
        try {
          const parsed = decoded.value ?? [] // null decodes into an empty slice
          if (!Array.isArray(parsed)) throw new Malformed(`json: cannot unmarshal ${typeName(parsed)} into Go value of type []state.SetRequest`)
          items = parsed.map((item) => setRequest(item, extra))
        } catch (error) {
          if (error instanceof Malformed) return malformed(error.message)
          throw error
        }
        if (items.length === 0) return noContent
        const keyless = items.find((item) => !item.hasKey)
        if (keyless !== undefined) return malformed('"key" is a required field')
        const illegal = items.find((item) => item.key.includes('||'))
        if (illegal !== undefined) return illegalKey(storeName, illegal.key)
        // Not atomic, as in Dapr: each item is written on its own; an etag failure anywhere wins.
        const failures = items.flatMap((item) => {
          const failure = store.set(item)
          return failure === undefined ? [] : [failure]
        })
        if (failures.length === 0) return noContent
        const { status, text } = items.length === 1 ? storeError(failures[0] as Failure) : joinedError(failures)
        return daprError(status, 'ERR_STATE_SAVE', `failed saving state in state store ${storeName}: ${text}`)
      }
      case 'bulk': {
        const decoded = goDecode(body)
        if ('error' in decoded) return malformed(`failed deserializing HTTP body: ${decoded.error}`)
        const parsed = decoded.value ?? {}
        if (typeof parsed !== 'object' || Array.isArray(parsed)) {
          return malformed(`failed deserializing HTTP body: json: cannot unmarshal ${typeName(parsed)} into Go value of type http.BulkGetRequest`)
        }
        const rawKeys: unknown = (parsed as { keys?: unknown }).keys ?? []
        if (!Array.isArray(rawKeys)) {
          return malformed(`failed deserializing HTTP body: json: cannot unmarshal ${typeName(rawKeys)} into Go struct field BulkGetRequest.keys of type []string`)
        }
        const wrongKey = (rawKeys as ReadonlyArray<unknown>).find((key) => typeof key !== 'string' && key !== null)
        if (wrongKey !== undefined) {
          return malformed(`failed deserializing HTTP body: json: cannot unmarshal ${typeName(wrongKey)} into Go struct field BulkGetRequest.keys of type string`)
        }
        const keys = (rawKeys as ReadonlyArray<unknown>).map((key) => (typeof key === 'string' ? key : ''))
        const illegal = keys.find((key) => key.includes('||'))
        if (illegal !== undefined) return illegalKey(storeName, illegal)
        // `data` is the stored bytes embedded as raw JSON, so it is spliced in, not re-encoded.
        // A component's own bulk get may answer fewer entries than keys (a key found and asked twice, once):
        // daprd's answer has one entry per key asked, the rest empty.
        const answered = store.bulkGet?.(keys) ?? keys.map((key) => ({ key, item: store.get(key) }))
        const parts = keys.map((_, index) => {
          const { key, item } = answered[index] ?? { key: '' }
          if (item === undefined) return JSON.stringify({ key })
          const metadata =
            item.expiresAt === undefined || !store.component.reportsExpireTime ? '' : `,"metadata":${JSON.stringify({ ttlExpireTime: rfc3339(item.expiresAt) })}`
          return `{"key":${JSON.stringify(key)},"data":${htmlEscaped(item.data)},"etag":${JSON.stringify(item.etag)}${metadata}}`
        })
        return { status: 200, body: `[${parts.join(',')}]\n`, headers: { 'content-type': 'application/json' } }
      }
      case 'transaction': {
        let operations: Array<Operation>
        const decoded = goDecode(body)
        if ('error' in decoded) return malformed(`failed deserializing HTTP body: ${decoded.error}`)
        try {
          const parsed = (decoded.value ?? {}) as { operations?: unknown }
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Malformed('json: cannot unmarshal into Go value of type http.stateTransactionRequestBody')
          const raw = parsed.operations ?? []
          if (!Array.isArray(raw)) throw new Malformed('json: cannot unmarshal operations')
          operations = []
          for (const entry of raw as ReadonlyArray<Record<string, unknown>>) {
            const kind = entry['operation']
            const request = (entry['request'] ?? {}) as Record<string, unknown>
            if (kind === 'upsert') {
              operations.push({ operation: 'upsert', request: setRequest(request, extra) })
            } else if (kind === 'delete') {
              const key = field(request, 'key')
              const etag = field(request, 'etag')
              operations.push({ operation: 'delete', key: typeof key === 'string' ? key : '', etag: typeof etag === 'string' && etag !== '' ? etag : undefined })
            } else {
              return daprError(400, 'ERR_NOT_SUPPORTED_STATE_OPERATION', `operation type ${String(kind)} not supported`)
            }
          }
        } catch (error) {
          return malformed((error as Error).message)
        }
        if (operations.length === 0) return noContent
        const illegal = operations.map((operation) => (operation.operation === 'upsert' ? operation.request.key : operation.key)).find((key) => key.includes('||'))
        if (illegal !== undefined) return illegalKey(storeName, illegal, false)
        const failure = store.multi(operations)
        return failure === undefined ? noContent : daprError(500, 'ERR_STATE_TRANSACTION', `error while executing state transaction: ${storeError(failure).text}`)
      }
    }
  }

  return handle
}
