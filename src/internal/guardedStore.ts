/**
 * A store that the library did not make, held to the `Store` contract: every failure is a `Left`.
 * A method that throws, or a task that rejects, answers instead with a `ConnectionError` naming the
 * store and carrying what was thrown, so the call it served runs uncached and the failure is counted,
 * as for any other trouble with a store. The library's own stores keep the contract and are used as
 * they are (no wrapper, no extra step on their calls).
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import type { Store } from '../Store.js'

const trusted = new WeakSet<Store>()

const thrown = (cause: unknown): string => {
  try {
    return CE.isInstance(cause, Error) ? `${cause.name}: ${cause.message}` : CE.describe(cause)
  } catch {
    return CE.messageOf(cause)
  }
}

/** What is wrong with a store's answer to `method`, or undefined when it keeps the contract. */
const misshapen = (method: string, answer: unknown): string | undefined => {
  if (typeof answer !== 'object' || answer === null) return `${CE.describe(answer)}, not an Either`
  const { _tag: tag } = answer as { _tag?: unknown }
  if (tag === 'Left') {
    const left = (answer as { left?: unknown }).left
    const valid = typeof left === 'object' && left !== null && typeof (left as { _tag?: unknown })._tag === 'string' && typeof (left as { message?: unknown }).message === 'string'
    return valid ? undefined : `a Left of ${CE.describe(left)}, not a CacheError`
  }
  if (tag !== 'Right') return `${CE.describe(answer)}, not an Either`
  if (method === 'setIf' || method === 'deleteIf') {
    const right = (answer as { right?: unknown }).right
    return typeof right === 'boolean' ? undefined : `a Right of ${CE.describe(right)}, not a boolean`
  }
  if (method === 'getVersioned') {
    const option = (answer as { right?: unknown }).right as { _tag?: unknown; value?: { value?: unknown; etag?: unknown } } | null | undefined
    if (option?._tag === 'None' || (option?._tag === 'Some' && option.value?.value instanceof Uint8Array && typeof option.value.etag === 'string')) return undefined
    return `a Right of ${CE.describe(option)}, not an Option of bytes with an etag`
  }
  if (method !== 'get' && method !== 'readNow') return undefined
  const option = (answer as { right?: unknown }).right as { _tag?: unknown; value?: unknown } | null | undefined
  if (option?._tag === 'None' || (option?._tag === 'Some' && option.value instanceof Uint8Array)) return undefined
  return `a Right of ${CE.describe(option)}, not an Option of bytes`
}

/** Marks a store the library made: it never throws and its tasks never reject. */
export const trust = <S extends Store>(store: S): S => {
  trusted.add(store)
  return store
}

/** `store` itself when the library made it, else `store` held to its contract. */
export const guarded = (store: Store): Store => (trusted.has(store) ? store : guard(store))

const guard = (store: Store): Store => {
  const broke = (method: string, cause: unknown, key: string | undefined): E.Either<CacheError, never> =>
    E.left(
      CE.connectionError(`the store ${JSON.stringify(store.name)} threw from ${method} instead of answering with a Left: ${thrown(cause)}`, {
        cause,
        key,
      }),
    )
  /** An answer held to the contract: an Either, whose Left is a CacheError and whose Right a `get` gives is an Option of bytes. */
  const answered = <A>(method: string, key: string | undefined, answer: E.Either<CacheError, A>): E.Either<CacheError, A> => {
    try {
      const wrong = misshapen(method, answer)
      if (wrong === undefined) return answer
      return E.left(CE.connectionError(`the store ${JSON.stringify(store.name)} answered ${method} with ${wrong}`, { key }))
    } catch (cause) {
      return broke(method, cause, key)
    }
  }
  const task =
    <A>(method: string, key: string | undefined, make: () => TE.TaskEither<CacheError, A>): TE.TaskEither<CacheError, A> =>
    () => {
      try {
        return make()().then(
          (answer) => answered(method, key, answer),
          (cause: unknown) => broke(method, cause, key),
        )
      } catch (cause) {
        return Promise.resolve(broke(method, cause, key))
      }
    }
  const now = <A>(method: string, key: string, run: () => E.Either<CacheError, A>): E.Either<CacheError, A> => {
    try {
      return answered(method, key, run())
    } catch (cause) {
      return broke(method, cause, key)
    }
  }
  const { readNow, writeNow, setMany, getMany, deleteMany, create, supportsCreate, getVersioned, setIf, deleteIf, close } = store
  return {
    name: store.name,
    get: (key) => task('get', key, () => store.get(key)),
    set: (key, value, ttlSeconds) => task('set', key, () => store.set(key, value, ttlSeconds)),
    delete: (key) => task('delete', key, () => store.delete(key)),
    ...(readNow === undefined ? {} : { readNow: (key: string) => now('readNow', key, () => readNow.call(store, key)) }),
    ...(writeNow === undefined
      ? {}
      : { writeNow: (key: string, value: Uint8Array, ttlSeconds: number) => now('writeNow', key, () => writeNow.call(store, key, value, ttlSeconds)) }),
    ...(setMany === undefined ? {} : { setMany: (entries: Parameters<typeof setMany>[0]) => task('setMany', entries[0]?.key, () => setMany.call(store, entries)) }),
    ...(getMany === undefined ? {} : { getMany: (keys: ReadonlyArray<string>) => task('getMany', keys[0], () => getMany.call(store, keys)) }),
    ...(deleteMany === undefined ? {} : { deleteMany: (keys: ReadonlyArray<string>) => task('deleteMany', keys[0], () => deleteMany.call(store, keys)) }),
    ...(create === undefined
      ? {}
      : { create: (key: string, value: Uint8Array, ttlSeconds: number) => task('create', key, () => create.call(store, key, value, ttlSeconds)) }),
    // Versions: all three, or none (a tag index needs them together).
    ...(getVersioned === undefined || setIf === undefined || deleteIf === undefined
      ? {}
      : {
          getVersioned: (key: string) => task('getVersioned', key, () => getVersioned.call(store, key)),
          setIf: (key: string, value: Uint8Array, ttlSeconds: number, etag: string | undefined) => task('setIf', key, () => setIf.call(store, key, value, ttlSeconds, etag)),
          deleteIf: (key: string, etag: string) => task('deleteIf', key, () => deleteIf.call(store, key, etag)),
        }),
    // A store that cannot say whether it supports `create` does not hold leases.
    ...(supportsCreate === undefined ? {} : { supportsCreate: () => Promise.resolve().then(() => supportsCreate.call(store)).catch(() => false) }),
    ...(close === undefined ? {} : { close: () => close.call(store) }),
  }
}
