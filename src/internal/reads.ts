/**
 * The engine's reads beyond a call's first one: a value with its companion entry, and a value read
 * once more for a call that already missed (under the lease).
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type { CacheError } from '../CacheError.js'
import { metaKey } from './meta.js'
import type { Lookup, Outcome, Recipe } from './recipe.js'
import { fillL1, read } from './recipe.js'
import type { Batch } from './batch.js'

export type Read = E.Either<CacheError, O.Option<Uint8Array>>

/**
 * The value of `key` and its companion entry: in one bulk get where the store has one, else two reads
 * side by side. The companion's answer is a promise (that never rejects), for a step that need not
 * wait for it.
 */
export const readWithMeta = async (recipe: Recipe, key: string, batch?: Batch): Promise<readonly [Read, Promise<Read>]> => {
  if (batch !== undefined) {
    const metaRead = batch.read(metaKey(key))
    return [await batch.read(key), metaRead]
  }
  const getMany = recipe.store.getMany
  if (getMany === undefined) {
    const metaRead = recipe.store.get(metaKey(key))()
    return [await recipe.store.get(key)(), metaRead]
  }
  const both = await getMany([key, metaKey(key)])()
  if (E.isLeft(both)) return [both, Promise.resolve(both)]
  return [both.right[0] ?? E.right(O.none), Promise.resolve(both.right[1] ?? E.right(O.none))]
}

/**
 * Reads the value once more, for a call that already missed: a value another replica wrote is served
 * (and kept in the tier) but not counted again; the call was counted as the miss it was.
 */
export const readAgain = async ({ recipe, key, ticket }: Lookup): Promise<Outcome | undefined> => {
  const found = await recipe.store.get(key)()
  if (E.isLeft(found) || O.isNone(found.right)) return undefined
  const cached = read(recipe, found.right.value)
  if (E.isLeft(cached)) return undefined
  fillL1(recipe, key, cached.right, found.right.value.byteLength, ticket)
  return cached
}
