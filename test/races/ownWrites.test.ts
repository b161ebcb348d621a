/**
 * Two races of one replica with itself, found by a review of the generations change: an
 * invalidation must not resolve while a write of its replica that began before it can still land,
 * whether that write is the value's (after the look at the generation before writing) or a wrapper's
 * own entry (negative caching's `<key>:neg`). A call made after it resolved gets a value from after it.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { cache } from '../../src/Cached.js'
import { withGenerations } from '../../src/Generations.js'
import { withNegativeCache } from '../../src/NegativeCache.js'
import { orElseUncached, withDedup, withKey } from '../../src/Pipeline.js'
import { memoryStore } from '../../src/stores/MemoryStore.js'
import type { Store } from '../../src/Store.js'
import { deferred } from '../helpers.js'

const turn = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms))

describe('an invalidation waits for the writes of its own replica that began before it', () => {
  it('the value’s write, when the look at the generation before it answered late', async () => {
    const inner = memoryStore()
    const lateLook = deferred()
    const looking = deferred()
    let generationReads = 0
    const slow: { deleting?: Promise<void> } = {}
    const store: Store = {
      name: 'late generation',
      get: (key) => async () => {
        const found = await inner.get(key)()
        // The second read of the generation is the look before the write: its answer comes late.
        if (key.endsWith(':gen') && ++generationReads === 2) {
          looking.resolve()
          await lateLook.promise
        }
        return found
      },
      set: (key, value, ttl) => inner.set(key, value, ttl),
      delete: (key) => async () => {
        if (slow.deleting !== undefined) await slow.deleting
        return inner.delete(key)()
      },
    }
    let version = 1
    const get = pipe((id: number) => TE.right(`v${version} of ${id}`), cache(store), withKey('own.value'), withGenerations(), withDedup(), orElseUncached({ onError: () => undefined }))
    const first = get(1)()
    await looking.promise // v1 is computed; the look before its write is on its way
    version = 2
    expect(await get.invalidate(1)()).toEqual(E.right(undefined))
    // From now on deletes are slow: a write that landed would stay long enough to be read.
    const deletes = deferred()
    slow.deleting = deletes.promise
    lateLook.resolve() // it says the generation it saw did not move: the fence must still stop the write
    await turn()
    expect(await get(1)()).toEqual(E.right('v2 of 1'))
    deletes.resolve()
    expect(await first).toEqual(E.right('v1 of 1'))
  })

  it('negative caching’s own entry, on its way when the invalidation came', async () => {
    const inner = memoryStore()
    const landing = deferred()
    const sent = deferred()
    const store: Store = {
      name: 'slow negative entry',
      get: (key) => inner.get(key),
      set: (key, value, ttl) => async () => {
        if (key.endsWith(':neg')) {
          sent.resolve()
          await landing.promise
        }
        return inner.set(key, value, ttl)()
      },
      delete: (key) => inner.delete(key),
    }
    let exists = false
    const get = pipe(
      (id: number): TE.TaskEither<{ readonly _tag: 'NotFound' }, { readonly id: number }> => (exists ? TE.right({ id }) : TE.left({ _tag: 'NotFound' })),
      cache(store),
      withKey('own.negative'),
      withGenerations(),
      withNegativeCache({ when: (error) => error._tag === 'NotFound' }),
      withDedup(),
      orElseUncached({ onError: () => undefined }),
    )
    const first = get(1)()
    await sent.promise
    exists = true
    let resolved = false
    const invalidated = get.invalidate(1)().then((result) => ((resolved = true), result))
    await turn()
    expect(resolved).toBe(false) // it waits for the entry on its way
    landing.resolve()
    expect(await invalidated).toEqual(E.right(undefined))
    expect(await get(1)()).toEqual(E.right({ id: 1 }))
    expect(await first).toEqual(E.left({ _tag: 'NotFound' }))
  })

  it('but not for a computation done again because another replica’s invalidation overtook a write', async () => {
    const inner = memoryStore()
    const setting = deferred()
    const held = deferred()
    let writes = 0
    const store: Store = {
      name: 'held write',
      get: (key) => inner.get(key),
      set: (key, value, ttl) => async () => {
        if (!key.endsWith(':gen') && ++writes === 1) {
          held.resolve()
          await setting.promise
        }
        return inner.set(key, value, ttl)()
      },
      delete: (key) => inner.delete(key),
    }
    let computations = 0
    const again = deferred()
    const againStarted = deferred()
    const load = async (id: number): Promise<string> => {
      computations++
      if (computations === 1) return `first of ${id}`
      againStarted.resolve()
      await again.promise // the computation done again is slow
      return `again of ${id}`
    }
    const replica = () => pipe(load, cache(store), withKey('own.again'), withGenerations(), withDedup(), orElseUncached({ onError: () => undefined }))
    const a = replica()
    const b = replica()
    const loading = a(1)()
    await held.promise // A's write is on its way
    expect(await b.invalidate(1)()).toEqual(E.right(undefined))
    setting.resolve() // it lands; A sees the generation moved, deletes it, and computes again
    await againStarted.promise
    let resolved = false
    const invalidated = a.invalidate(1)().then(() => (resolved = true))
    await turn()
    expect(resolved).toBe(true) // A's own invalidation does not wait for that computation
    again.resolve()
    await invalidated
    expect(await loading).toEqual(E.right('again of 1'))
  })
})
