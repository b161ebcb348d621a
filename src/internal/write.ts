/**
 * Writing a fresh value: its TTL spread by the jitter, serialized, stored (at once where the store
 * writes synchronously), with its companion entry `<key>:meta` when the recipe keeps one; and
 * deleting a value with its companion entry.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import { jittered } from './jitter.js'
import { MAX_INT32 } from './options.js'
import type { EntryMeta } from './meta.js'
import { encodeMeta, metaKey } from './meta.js'
import type { Recipe } from './recipe.js'
import { ttlFor } from './recipe.js'
import type { CallSpan } from './tracing.js'
import { endStoreSpan } from './tracing.js'
import type { Batch } from './batch.js'

/** The bytes written, or why they were not. */
export type Written = E.Either<CacheError, Uint8Array>

/**
 * Serializes and stores a fresh value (and its companion entry, when the recipe keeps one); records
 * the write when the store took it. Gives the bytes written: at once from a store that writes
 * synchronously (untraced calls), else as a promise.
 */
export const write = (recipe: Recipe, key: string, value: unknown, call: CallSpan | undefined, computeMs: number, batch?: Batch): Written | Promise<Written> => {
  const base = ttlFor(recipe, value)
  if (typeof base !== 'number') return base
  const ttl = recipe.jitter > 0 ? jittered(base, recipe.jitter) : base
  const bytes = recipe.serializer.trySerialize(value)
  if (E.isLeft(bytes)) return bytes
  const started = recipe.timed ? performance.now() : 0
  const writes = recipe.writes
  if (writes !== undefined && call === undefined) {
    const stored = writes.writeNow(key, bytes.right, ttl)
    if (recipe.keepsMeta && E.isRight(stored)) {
      const meta = companion(recipe, ttl, bytes.right, computeMs)
      metaWritten(recipe, key, writes.writeNow(metaKey(key), meta.bytes, meta.ttlSeconds))
    }
    return wrote(recipe, key, bytes, started, stored)
  }
  const span = call?.store('set')
  const meta = recipe.keepsMeta ? companion(recipe, ttl, bytes.right, computeMs) : undefined
  const setMany = recipe.store.setMany
  // The value and its companion entry in one request where the store can, else side by side; in a
  // batch, with the batch's other writes.
  const storing =
    batch !== undefined
      ? batch.write(meta === undefined ? [{ key, value: bytes.right, ttlSeconds: ttl }] : [{ key, value: bytes.right, ttlSeconds: ttl }, { key: metaKey(key), value: meta.bytes, ttlSeconds: meta.ttlSeconds }]).then(([stored, metaStored]) => {
          if (metaStored !== undefined && E.isRight(stored as E.Either<CacheError, void>)) metaWritten(recipe, key, metaStored)
          return stored as E.Either<CacheError, void>
        })
      : meta === undefined
      ? recipe.store.set(key, bytes.right, ttl)()
      : setMany !== undefined
        ? setMany([
            { key, value: bytes.right, ttlSeconds: ttl },
            { key: metaKey(key), value: meta.bytes, ttlSeconds: meta.ttlSeconds },
          ])()
        : Promise.all([recipe.store.set(key, bytes.right, ttl)(), recipe.store.set(metaKey(key), meta.bytes, meta.ttlSeconds)()]).then(([stored, metaStored]) => {
            metaWritten(recipe, key, metaStored)
            return stored
          })
  return storing.then((stored) => {
    if (span !== undefined) endStoreSpan(span, E.isLeft(stored) ? stored.left : undefined)
    return wrote(recipe, key, bytes, started, stored)
  })
}

const wrote = (recipe: Recipe, key: string, bytes: E.Right<Uint8Array>, started: number, stored: E.Either<CacheError, void>): Written => {
  if (E.isLeft(stored)) return stored
  if (recipe.timed) recipe.metrics.recordWrite(key, bytes.right.byteLength, { ...recipe.context, latencyMs: performance.now() - started })
  return bytes
}

/**
 * The companion entry of a value written now with `ttl`: its age and computation time, and with
 * fail-safe a copy of its bytes that outlives it by `maxStaleSeconds`.
 */
const companion = (recipe: Recipe, ttl: number, bytes: Uint8Array, computeMs: number): { readonly bytes: Uint8Array; readonly ttlSeconds: number } => {
  const stale = recipe.failSafe
  const meta: EntryMeta = { writtenAt: recipe.clock.now(), ttlSeconds: ttl, computeMs, bytes: stale === undefined ? undefined : bytes }
  // The copy outlives the value by maxStaleSeconds, within the longest TTL a Dapr store takes.
  return { bytes: encodeMeta(meta), ttlSeconds: stale === undefined ? ttl : Math.min(ttl + stale.maxStaleSeconds, MAX_INT32) }
}

/** A companion entry that could not be written is counted; the value's own write stands. */
const metaWritten = (recipe: Recipe, key: string, stored: E.Either<CacheError, void>): void => {
  if (E.isLeft(stored)) recipe.metrics.recordError(metaKey(key), CE.withKey(metaKey(key))(stored.left), recipe.context)
}

/** Deletes the value of `key` and its companion entry. */
export const drop = async (recipe: Recipe, key: string): Promise<E.Either<CacheError, void>> => {
  const [value, meta, ...companions] = await Promise.all([
    recipe.store.delete(key)(),
    recipe.keepsMeta ? recipe.store.delete(metaKey(key))() : undefined,
    ...recipe.companions.map((companion) => recipe.store.delete(companion(key))()),
  ])
  return [value, meta, ...companions].find((deleted) => deleted !== undefined && E.isLeft(deleted)) ?? value
}
