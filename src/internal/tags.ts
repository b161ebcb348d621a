/**
 * Tags: an index per tag in the store itself, so that `invalidateTag` can delete every entry that
 * carries the tag (a reader that knows nothing of tags, the Python library, then gets a miss).
 *
 * Key space (never a value key, whose last part is 16 hex digits):
 * - `<prefix>:tags:<tag>:<n>`, n from 0 to 63: the index of a tag, in 64 buckets (a key goes to
 *   bucket `fnv1a(key) % 64`), each a JSON object of key -> expiry (epoch seconds). Buckets are
 *   changed only with versions (`setIf`): of writers adding at once, none loses its key.
 * - `<prefix>:tags:epoch`: a random token, written anew by every tag invalidation before it reads
 *   an index. A computation reads it before it begins and again after its write, as a key's
 *   generation (it is part of it): a value computed before an invalidation of any tag is never
 *   left behind it.
 *
 * A write with tags adds its key to every tag's index before the value is written: a value in the
 * store is always in its indexes, and an invalidation that read an index after the add deletes it;
 * one that read it before had bumped the epoch before, which the write sees after it lands.
 */
import { randomBytes } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import type { Store } from '../Store.js'
import type { Generations } from './parts.js'
import { metaKey } from './meta.js'
import type { Lookup, Outcome, Recipe } from './recipe.js'
import { cacheFailure, ttlFor } from './recipe.js'
import { KEY_PART, isKeyPart } from '../Key.js'

/**
 * The companion entries a tag invalidation deletes with each value key, whichever function wrote
 * it: fail-safe's and refresh ahead's `:meta`, negative caching's `:neg`.
 */
export const TAG_COMPANIONS: ReadonlyArray<(key: string) => string> = [metaKey, (key) => `${key}:neg`]

/** Buckets per tag. */
export const BUCKETS = 64

/** How long the epoch lives after its last change: longer than any computation. */
const EPOCH_TTL_SECONDS = 86_400

/** How long a bucket outlives the last expiry it holds (a slow clock, a late delete). */
const BUCKET_SLACK_SECONDS = 60

/** Attempts at changing one bucket before giving up (each lost to another writer). */
const ATTEMPTS = 20

/** How long the keys waiting for a bucket wait for the write before theirs, at most. */
const GROUP_PATIENCE_MS = 2_000

/** How many keys are deleted at once. */
const DELETE_CHUNK = 100

export const epochKey = (prefix: string): string => `${prefix}:tags:epoch`
export const bucketKey = (prefix: string, tag: string, bucket: number): string => `${prefix}:tags:${tag}:${bucket}`

/** FNV-1a over the key's UTF-16 code units: which bucket holds it. */
export const bucketOf = (key: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % BUCKETS
}

/** What is wrong with a tag, or undefined: part of a key (see `isKeyPart`), of at most 1 KiB in UTF-8. */
export const tagProblem = (tag: unknown): string | undefined => {
  if (typeof tag !== 'string') return `a tag must be a string, got ${CE.describe(tag)}`
  if (tag === '') return 'a tag must not be empty'
  if (!isKeyPart(tag)) return `a tag must be ${KEY_PART}`
  if (Buffer.byteLength(tag) > 1024) return `a tag must be at most 1 KiB, got ${Buffer.byteLength(tag)} bytes`
  return undefined
}

/** The tags given, checked and without repeats, or the error that says which is wrong. */
export const checkTags = (tags: unknown): E.Either<CacheError, ReadonlyArray<string>> => {
  if (!Array.isArray(tags)) return E.left(CE.keyError(`tags must be an array of strings, got ${CE.describe(tags)}`))
  for (const tag of tags as ReadonlyArray<unknown>) {
    const problem = tagProblem(tag)
    if (problem !== undefined) return E.left(CE.keyError(problem))
  }
  return E.right([...new Set(tags as ReadonlyArray<string>)])
}

type Index = Record<string, number>

const readIndex = (bytes: Uint8Array): Index => {
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { keys?: unknown }
    const keys = parsed.keys
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) return {}
    const index: Index = Object.create(null) as Index
    for (const [key, expiry] of Object.entries(keys)) if (typeof expiry === 'number') index[key] = expiry
    return index
  } catch {
    return {}
  }
}

const writeIndex = (index: Index): Uint8Array => Buffer.from(JSON.stringify({ v: 1, keys: index }))

const versioned = (store: Store) => {
  const { getVersioned, setIf, deleteIf } = store
  if (getVersioned === undefined || setIf === undefined || deleteIf === undefined) return undefined
  return { getVersioned, setIf, deleteIf }
}

/** Whether `store` can keep tag indexes. */
export const canTag = (store: Store): boolean => versioned(store) !== undefined

/** The epoch now (undefined: never written), for the generation of a computation. */
export const readEpoch = async (store: Store, prefix: string): Promise<E.Either<CacheError, string | undefined>> => {
  const found = await store.get(epochKey(prefix))()
  return E.isLeft(found) ? found : E.right(O.isSome(found.right) ? Buffer.from(found.right.value).toString('hex') : undefined)
}

/**
 * Adds `key` (living `ttlSeconds` from now) to the index of every tag: Right once every index holds
 * it. Expired keys are dropped from a bucket as it is rewritten.
 */
export const addToIndexes = async (store: Store, prefix: string, tags: ReadonlyArray<string>, key: string, ttlSeconds: number): Promise<E.Either<CacheError, void>> => {
  const cas = versioned(store)
  if (cas === undefined) return E.left(CE.invalidOptions('tags', store.name, 'a store with versioned entries (getVersioned, setIf, deleteIf)'))
  const bucket = bucketOf(key)
  const added = await Promise.all(tags.map((tag) => join(store, cas, bucketKey(prefix, tag, bucket), tag, key, ttlSeconds)))
  return added.find(E.isLeft) ?? E.right(undefined)
}

type Versioned = NonNullable<ReturnType<typeof versioned>>

/** A key waiting to join a bucket, and who waits for it. */
interface Joining {
  readonly key: string
  readonly ttlSeconds: number
  readonly done: (added: E.Either<CacheError, void>) => void
}

/**
 * The keys waiting to join each bucket, per store. The keys of one process that join one bucket at
 * once (a `many` of thousands of keys under one tag, say) share its changes: one versioned write
 * adds every key that waited, instead of one write per key, each losing to the others.
 */
const joining = new WeakMap<Store, Map<string, Array<Joining>>>()

/** Adds `key` to the bucket `where` of `tag`, with the other keys waiting to join it. */
const join = (store: Store, cas: Versioned, where: string, tag: string, key: string, ttlSeconds: number): Promise<E.Either<CacheError, void>> =>
  new Promise((done) => {
    let buckets = joining.get(store)
    if (buckets === undefined) joining.set(store, (buckets = new Map<string, Array<Joining>>()))
    const waiting = buckets.get(where)
    if (waiting !== undefined) {
      waiting.push({ key, ttlSeconds, done })
      return
    }
    const queue: Array<Joining> = [{ key, ttlSeconds, done }]
    buckets.set(where, queue)
    const owner = buckets
    // One write at a time per bucket: the keys that came while it was under way go in the next. A
    // write that takes longer than GROUP_PATIENCE_MS (a store that does not answer) does not hold
    // the next one back.
    void (async () => {
      await Promise.resolve()
      while (queue.length > 0) {
        const group = queue.splice(0)
        const written = addAll(cas, where, tag, group).then((added) => {
          for (const joined of group) joined.done(E.isLeft(added) ? E.left(CE.withKey(joined.key)(added.left)) : added)
        })
        let patience: ReturnType<typeof setTimeout> | undefined
        await Promise.race([written, new Promise<void>((resolve) => (patience = setTimeout(resolve, GROUP_PATIENCE_MS)))])
        clearTimeout(patience)
      }
      owner.delete(where)
    })()
  })

/** Adds every key of `group` to the bucket `where`, with versions: Right once the bucket holds them. */
const addAll = async (cas: Versioned, where: string, tag: string, group: ReadonlyArray<Joining>): Promise<E.Either<CacheError, void>> => {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const read = await cas.getVersioned(where)()
    if (E.isLeft(read)) return read
    const now = Math.floor(Date.now() / 1000)
    const index = O.isSome(read.right) ? readIndex(read.right.value.value) : (Object.create(null) as Index)
    // Gone a minute after their expiry, not at it: a clock ahead of the store's must not drop a live key.
    for (const [held, expiry] of Object.entries(index)) if (expiry + BUCKET_SLACK_SECONDS < now) delete index[held]
    for (const { key, ttlSeconds } of group) index[key] = Math.max(index[key] ?? 0, now + ttlSeconds)
    const lastExpiry = Math.max(...Object.values(index))
    const written = await cas.setIf(where, writeIndex(index), lastExpiry - now + BUCKET_SLACK_SECONDS, O.isSome(read.right) ? read.right.value.etag : undefined)()
    if (E.isLeft(written)) return written
    if (written.right) return E.right(undefined)
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)))
  }
  return E.left(CE.storeRejected(409, `the index of tag ${JSON.stringify(tag)} changed under ${ATTEMPTS} attempts in a row; the value is not stored`))
}

/** What a tag invalidation did. */
export interface TagInvalidation {
  /** Value keys deleted (each with its companion entries), counted per tag: a key under two of the tags counts twice. */
  readonly deleted: number
}

/**
 * Invalidates `tags`: a new epoch first (computations under way anywhere drop what they write),
 * then, bucket by bucket, the bucket emptied at the version read (when a writer added a key
 * meanwhile, it is read again), and its keys deleted with their companions. A bucket is emptied,
 * never deleted: its versions only grow (Redis would number a new one from 1 again, and a writer
 * holding an old version could overwrite it). A writer whose key was emptied out of an index after
 * it joined deletes its own value once written (`stillIndexed`). `deleted` is told each chunk of
 * keys deleted, and waited for (progress in metrics, the tiers told), so memory stays bounded.
 */
export const invalidateTagIndexes = async (
  store: Store,
  prefix: string,
  tags: ReadonlyArray<string>,
  companions: ReadonlyArray<(key: string) => string>,
  deleted: (keys: ReadonlyArray<string>, tag: string) => Promise<void>,
): Promise<E.Either<CacheError, TagInvalidation>> => {
  const cas = versioned(store)
  if (cas === undefined) return E.left(CE.invalidOptions('tags', store.name, 'a store with versioned entries (getVersioned, setIf, deleteIf)'))
  const bumped = await store.set(epochKey(prefix), randomBytes(12), EPOCH_TTL_SECONDS)()
  if (E.isLeft(bumped)) return bumped
  let count = 0
  for (const tag of tags) {
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      const where = bucketKey(prefix, tag, bucket)
      let keys: ReadonlyArray<string> = []
      for (let attempt = 0; ; attempt++) {
        const read = await cas.getVersioned(where)()
        if (E.isLeft(read)) return read
        if (O.isNone(read.right)) break
        const index = readIndex(read.right.value.value)
        keys = Object.keys(index)
        if (keys.length === 0) break
        const emptied = await cas.setIf(where, writeIndex({}), BUCKET_SLACK_SECONDS, read.right.value.etag)()
        if (E.isLeft(emptied)) return emptied
        if (emptied.right) break
        // A writer added a key since the read: read again, after a pause that grows.
        if (attempt >= ATTEMPTS) return E.left(CE.storeRejected(409, `the index of tag ${JSON.stringify(tag)} kept changing; try again`))
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)))
      }
      for (let i = 0; i < keys.length; i += DELETE_CHUNK) {
        const chunk = keys.slice(i, i + DELETE_CHUNK)
        const removed = await deleteAll(store, chunk.flatMap((key) => [key, ...companions.map((companion) => companion(key))]))
        if (E.isLeft(removed)) return removed
        count += chunk.length
        await deleted(chunk, tag)
      }
    }
  }
  return E.right({ deleted: count })
}

/** Deletes `keys`, in one request where the store can. */
const deleteAll = async (store: Store, keys: ReadonlyArray<string>): Promise<E.Either<CacheError, void>> => {
  if (store.deleteMany !== undefined) return store.deleteMany(keys)()
  const results = await Promise.all(keys.map((key) => store.delete(key)()))
  return results.find(E.isLeft) ?? E.right(undefined)
}

/**
 * A computation's generation with the epoch in it: a tag invalidation anywhere moves it, so a value
 * computed before one is not left behind it (the key's own generations, when the plan has them,
 * are kept as they are; without them, `bump` does nothing).
 */
export const withEpoch = (keys: Generations | undefined, store: Store, prefix: string): Generations => ({
  read: async (key) => {
    const [own, epoch] = await Promise.all([keys === undefined ? E.right(undefined) : keys.read(key), readEpoch(store, prefix)])
    if (E.isLeft(own)) return own
    if (E.isLeft(epoch)) return epoch
    return E.right(`${own.right ?? ''}|${epoch.right ?? ''}`)
  },
  bump: keys?.bump ?? (() => () => Promise.resolve(E.right(undefined))),
})

/**
 * Before a fresh value is written: its key joins the index of every tag it carries. The tags it
 * joined (maybe none) when the write may go ahead; otherwise what the call ends with, unstored (a
 * tag function that threw or gave a bad tag, an index that could not be changed: counted, reported,
 * and with a recipe that recovers the value itself; a strict one fails, as for a failed write).
 */
export const indexed = async (at: Lookup, fresh: E.Right<unknown>): Promise<Outcome | ReadonlyArray<string>> => {
  const { recipe, key, call } = at
  if (recipe.tags === undefined) return []
  let given: unknown
  try {
    given = recipe.tags(at.args, fresh.right)
  } catch (cause) {
    return cacheFailure(recipe, key, CE.keyError(`the tags function threw: ${CE.messageOf(cause)}`, { cause }), call) ?? fresh
  }
  const tags = checkTags(given)
  if (E.isLeft(tags)) return cacheFailure(recipe, key, tags.left, call) ?? fresh
  if (tags.right.length === 0) return []
  const ttl = ttlFor(recipe, fresh.right)
  if (typeof ttl !== 'number') return [] // the write refuses it and says why
  // A jittered TTL is at most `ttl * (1 + jitter)`: the index keeps the key at least that long.
  const added = await addToIndexes(recipe.store, recipe.prefix, tags.right, key, Math.ceil(ttl * (1 + recipe.jitter)))
  return E.isLeft(added) ? (cacheFailure(recipe, key, added.left, call) ?? fresh) : tags.right
}

/**
 * After a tagged write landed: whether its key is still in every index it joined (`'no'`: a tag
 * invalidation emptied one since; `'unknown'`: an index could not be read, which a write must take
 * as a change).
 */
export const stillIndexed = async (recipe: Recipe, key: string, tags: ReadonlyArray<string>): Promise<'yes' | 'no' | 'unknown'> => {
  const bucket = bucketOf(key)
  const found = await Promise.all(tags.map((tag) => recipe.store.get(bucketKey(recipe.prefix, tag, bucket))()))
  if (found.some(E.isLeft)) return 'unknown'
  return found.every((read) => E.isRight(read) && O.isSome(read.right) && key in readIndex(read.right.value)) ? 'yes' : 'no'
}
