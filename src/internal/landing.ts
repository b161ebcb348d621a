/**
 * After a write: what is kept of it (the tier's copy, or the failure counted), whether another
 * replica invalidated the key meanwhile (its generation), and the landings an invalidation waits for.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from '../CacheError.js'
import type { Lookup, Outcome, Recipe } from './recipe.js'
import { cacheFailure, fillL1, read } from './recipe.js'
import type { Written } from './write.js'
import { landed } from './backplane.js'

const ignore = (): void => undefined

/**
 * Keeps `landing`, a write of `key` and what follows it, for an invalidation of `key` to wait for,
 * together with the key's landings still on their way: what the key holds settles once all of them
 * have, and never rejects. Gives `landing` back.
 */
export const track = <A>(recipe: Recipe, key: string, landing: Promise<A>): Promise<A> => {
  const earlier = recipe.landings.get(key)
  const settled = landing.then(ignore, ignore)
  const all = earlier === undefined ? settled : Promise.all([earlier, settled]).then(ignore)
  recipe.landings.set(key, all)
  void all.then(() => {
    if (recipe.landings.get(key) === all) recipe.landings.delete(key)
  })
  return landing
}

export type Generation = E.Either<CacheError, string | undefined> | undefined

/** The value is written (or the write failed): the tier keeps what a later read would get. */
export const kept = ({ recipe, key, call, ticket }: Lookup, fresh: E.Right<unknown>, written: Written): Outcome => {
  if (E.isLeft(written)) return cacheFailure(recipe, key, written.left, call) ?? fresh
  if (recipe.backplane !== undefined) landed(recipe, key)
  if (recipe.l1 !== undefined) {
    // The written bytes, read back once.
    const stored = read(recipe, written.right)
    if (E.isRight(stored)) fillL1(recipe, key, stored.right, written.right.byteLength, ticket)
  }
  return fresh
}

/**
 * Whether a replica invalidated `key` since `before` was read: `'same'`, `'moved'`, or `'unknown'`
 * when either generation could not be read (which a write must treat as a change).
 */
export const sameGeneration = async (recipe: Recipe, key: string, before: Generation): Promise<'same' | 'moved' | 'unknown'> => {
  if (recipe.generations === undefined || before === undefined) return 'same' // no generations: nothing to compare
  const after = await recipe.generations.read(key)
  if (E.isLeft(before) || E.isLeft(after)) return 'unknown'
  return before.right === after.right ? 'same' : 'moved'
}
