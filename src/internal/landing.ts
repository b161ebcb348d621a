/**
 * After a write: what is kept of it (the tier's copy, or the failure counted), whether another
 * replica invalidated the key meanwhile (its generation), and the landings an invalidation waits for.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from '../CacheError.js'
import type { Lookup, Outcome, Recipe } from './recipe.js'
import { cacheFailure, fillL1, read } from './recipe.js'
import type { Written } from './write.js'

/** Keeps `landing`, a write of `key` and what follows it, for an invalidation of `key` to wait for. */
export const track = <A>(recipe: Recipe, key: string, landing: Promise<A>): Promise<A> => {
  recipe.landings.set(key, landing)
  const landed = (): void => {
    if (recipe.landings.get(key) === landing) recipe.landings.delete(key)
  }
  void landing.then(landed, landed)
  return landing
}

export type Generation = E.Either<CacheError, string | undefined> | undefined

/** The value is written (or the write failed): the tier keeps what a later read would get. */
export const kept = ({ recipe, key, call, ticket }: Lookup, fresh: E.Right<unknown>, written: Written): Outcome => {
  if (E.isLeft(written)) return cacheFailure(recipe, key, written.left, call) ?? fresh
  if (recipe.l1 !== undefined) {
    // The written bytes, read back once.
    const stored = read(recipe, written.right)
    if (E.isRight(stored)) fillL1(recipe, key, stored.right, written.right.byteLength, ticket)
  }
  return fresh
}

/** Whether no replica invalidated `key` since `before` was read (an unreadable generation counts as a change). */
export const sameGeneration = async (recipe: Recipe, key: string, before: Generation): Promise<boolean> => {
  if (recipe.lease === undefined || before === undefined) return true // no lease: nothing to compare
  const after = await recipe.lease.generation(key)
  return E.isRight(before) && E.isRight(after) && before.right === after.right
}
