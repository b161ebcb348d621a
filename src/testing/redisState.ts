/**
 * The state semantics of Dapr's `state.redis` component, for the test sidecar's `'redis'` flavour,
 * as the component's Lua scripts and Go code define them and as real daprd on Redis answers:
 *
 * - values stored as json-iterator writes them (no HTML escaping, floats to six decimals);
 * - the etag is a version number, 1 on creation and one more on every write;
 * - a non-numeric etag is invalid (400); an etag on an absent key creates it; an etag sent with
 *   `last-write` is ignored;
 * - `first-write` without an etag fails (500) only against a record itself written first-write,
 *   and that flag is sticky: every later etag-less write to the key fails until it is deleted or expires;
 * - a TTL > 0 sets the expiry, <= 0 removes it, and a write without one keeps the key's expiry;
 * - every failed delete is an etag mismatch (409); `If-Match` on an absent key succeeds;
 * - no `ttlExpireTime` in GET answers;
 * - transactions are not atomic: as daprd 1.18 sends them (with the `writeTimeout` startDaprd
 *   sets), every command is queued twice in a row in one MULTI/EXEC, each runs whatever the
 *   others did, and the answer is the first error.
 */
import { jsoniterMarshal } from './goJson.js'
import type { Failure, Item, Operation, SetRequest, StateStore, StateStoreOptions } from './stateStore.js'
import { checkOptions, goParseInt, storedKey } from './stateStore.js'

interface Record_ {
  readonly data: string
  readonly version: number
  readonly firstWrite: boolean
  readonly expiresAt: number | undefined
}

// The component's scripts, as Redis names them in its errors (by line and SHA-1 of the script).
const SET_SCRIPT = 'd908b9553add63a82e03589b5c6d01a7654ef0f2'
const DELETE_SCRIPT = '2446db0de2c963f100727b388f03ead01d18c265'
const setScriptError = (key: string): string => `ERR user_script:14: failed to set key ${key} script: ${SET_SCRIPT}, on @user_script:14.`
const deleteScriptError = (key: string): string => `ERR user_script:6: failed to delete ${key} script: ${DELETE_SCRIPT}, on @user_script:6.`

export const redisStateStore = ({ now, appId }: StateStoreOptions, cluster = false): StateStore => {
  const records = new Map<string, Record_>()

  const live = (key: string): Record_ | undefined => {
    const record = records.get(key)
    if (record?.expiresAt !== undefined && now() >= record.expiresAt) {
      records.delete(key)
      return undefined
    }
    return record
  }

  const asItem = (record: Record_): Item => ({ data: record.data, etag: String(record.version), expiresAt: record.expiresAt })

  /** The set script: may this write land, given the version sent (0: none) and the record's flag? */
  const setScript = (key: string, version: number, data: string, firstWrite: boolean): boolean => {
    const current = live(key)
    const allowed = current === undefined || String(current.version) === String(version) || (!current.firstWrite && version === 0)
    if (!allowed) return false
    records.set(key, {
      data,
      version: (current?.version ?? 0) + 1,
      firstWrite: firstWrite || (current?.firstWrite ?? false),
      expiresAt: current?.expiresAt,
    })
    return true
  }

  const expire = (key: string, ttl: number | undefined): void => {
    const record = records.get(key)
    if (record === undefined || ttl === undefined) return // no TTL sent: the key keeps its expiry
    records.set(key, { ...record, expiresAt: ttl > 0 ? now() + ttl * 1000 : undefined })
  }

  /** Checks what the component checks before its script runs: options, etag, TTL. */
  const parse = (request: SetRequest, inTransaction: boolean): { version: number; ttl: number | undefined } | Failure => {
    const invalid = inTransaction ? undefined : checkOptions(request)
    if (invalid !== undefined) return invalid
    let version = 0
    if (request.concurrency !== 'last-write' && request.etag !== undefined && request.etag !== '') {
      const parsed = goParseInt('Atoi', request.etag)
      if (typeof parsed !== 'number') return { kind: 'etag-invalid', message: parsed.error }
      version = parsed
    }
    const raw = request.metadata['ttlInSeconds'] ?? ''
    const ttl = raw === '' ? undefined : goParseInt('ParseInt', raw)
    if (typeof ttl === 'object') return { kind: 'failed', message: `failed to parse ttl from metadata: ${ttl.error}` }
    return { version, ttl }
  }

  const set = (request: SetRequest): Failure | undefined => {
    const parsed = parse(request, false)
    if ('kind' in parsed) return parsed
    const key = storedKey(appId, request.key)
    if (!setScript(request.key, parsed.version, jsoniterMarshal(request.value), request.concurrency === 'first-write')) {
      const hasEtag = request.etag !== undefined && request.etag !== ''
      return hasEtag ? { kind: 'etag-mismatch', message: setScriptError(key) } : { kind: 'failed', message: `failed to set key ${key}: ${setScriptError(key)}` }
    }
    expire(request.key, parsed.ttl)
    return undefined
  }

  const remove = (key: string, etag: string | undefined): Failure | undefined => {
    const current = live(key)
    const sent = etag === undefined || etag === '' ? '0' : etag
    if (current !== undefined && String(current.version) !== sent && sent !== '0') {
      return { kind: 'etag-mismatch', message: deleteScriptError(storedKey(appId, key)) }
    }
    records.delete(key)
    return undefined
  }

  /**
   * A transaction as daprd 1.18 sends it to Redis 7: one MULTI/EXEC in which every command is queued
   * twice in a row (the component's pipeline queues each command once with its write timeout and
   * once without), so an upsert is its set script twice, then its EXPIRE twice. Redis runs every
   * command whatever the others did (no rollback), and the answer is the first error.
   */
  const runTwice = (operations: ReadonlyArray<Operation>, prepared: ReadonlyArray<{ version: number; ttl: number | undefined } | undefined>): Failure | undefined => {
    let first: Failure | undefined
    operations.forEach((operation, index) => {
      for (let run = 0; run < 2; run++) {
        let failure: Failure | undefined
        if (operation.operation === 'upsert') {
          const { version } = prepared[index] ?? { version: 0 }
          if (!setScript(operation.request.key, version, jsoniterMarshal(operation.request.value), false)) {
            failure = { kind: 'failed', message: setScriptError(storedKey(appId, operation.request.key)) }
          }
        } else {
          const result = remove(operation.key, operation.etag)
          failure = result === undefined ? undefined : { kind: 'failed', message: result.message }
        }
        first ??= failure
      }
      if (operation.operation === 'upsert') expire(operation.request.key, prepared[index]?.ttl)
    })
    return first
  }

  return {
    component: { type: 'state.redis', capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'KEYS_LIKE', 'ACTOR'], reportsExpireTime: false },
    get: (key) => {
      const record = live(key)
      return record === undefined ? undefined : asItem(record)
    },
    set,
    delete: (key, etag, options = {}) => checkOptions(options) ?? remove(key, etag),
    multi: (operations) => {
      const prepared: Array<{ version: number; ttl: number | undefined } | undefined> = []
      for (const operation of operations) {
        if (operation.operation === 'delete') {
          prepared.push(undefined)
          continue
        }
        const parsed = parse(operation.request, true)
        if ('kind' in parsed) return parsed
        prepared.push(parsed)
      }
      if (cluster && new Set(operations.map((operation) => hashSlot(storedKey(appId, operation.operation === 'upsert' ? operation.request.key : operation.key)))).size > 1) {
        return { kind: 'failed', message: "CROSSSLOT Keys in request don't hash to the same slot" }
      }
      return runTwice(operations, prepared)
    },
    entries: () =>
      Array.from(records.keys()).flatMap((key) => {
        const record = live(key)
        return record === undefined ? [] : [[key, asItem(record)] as const]
      }),
    seed: (key, data, ttlSeconds) => {
      const current = live(key)
      records.set(key, {
        data,
        version: (current?.version ?? 0) + 1,
        firstWrite: false,
        expiresAt: ttlSeconds === undefined || ttlSeconds <= 0 ? undefined : now() + ttlSeconds * 1000,
      })
    },
    clear: () => records.clear(),
  }
}

/** Redis Cluster's hash slot of a key: CRC16 (XMODEM) of the key, or of its `{hash tag}`, modulo 16384. */
export const hashSlot = (key: string): number => {
  let bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf('{')
  if (open !== -1) {
    const close = bytes.indexOf('}', open + 1)
    if (close > open + 1) bytes = bytes.subarray(open + 1, close)
  }
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

/**
 * `state.redis` on a Redis Cluster (`redisType: cluster`): as on one Redis, except that a
 * transaction whose keys hash to different slots is refused whole, after the component's own
 * checks of etags and TTLs (the client's CROSSSLOT check, before anything is sent). That is the
 * component's client for Redis 7 and later (go-redis v9), the one proven here; for older servers
 * the component uses go-redis v8, which splits such a transaction by slot instead.
 */
export const redisClusterStateStore = (options: StateStoreOptions): StateStore => redisStateStore(options, true)
