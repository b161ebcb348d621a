/**
 * Dropping one key's entry, here and, with the lease, across replicas: what `invalidate` does.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import type { Recipe } from './recipe.js'
import { ttlOr } from './recipe.js'
import { drop } from './write.js'
import type { TagInvalidation } from './tags.js'
import { TAG_COMPANIONS, checkTags, invalidateTagIndexes } from './tags.js'

// -------------------------------------------------------------------------------------
// invalidation
// -------------------------------------------------------------------------------------

/**
 * This process forgets `key`: its tier's copy, its loads under way (they neither store their value
 * nor take callers who come later), background work, a fail-safe throttle.
 */
export const forgetHere = (recipe: Recipe, key: string): void => {
  recipe.l1?.invalidate(key)
  recipe.fence.invalidate(key)
  recipe.dedup?.forget(key)
  // Later misses neither join work that began before now nor get a stale value from before it.
  recipe.background.delete(key)
  recipe.failSafe?.forget(key)
}

/** Drops the entry for these arguments. Failures are counted and returned, never recovered from. */
export const invalidate = async (recipe: Recipe, args: ReadonlyArray<unknown>): Promise<E.Either<CacheError, void>> => {
  const key = recipe.keys.keyOf(args)
  if (E.isLeft(key)) {
    recipe.metrics.recordError(undefined, key.left, recipe.context)
    return key
  }
  forgetHere(recipe, key.right)
  // Across replicas: a new generation first, so a computation under way elsewhere drops its write.
  const bumped = recipe.generations === undefined ? E.right(undefined) : await recipe.generations.bump(key.right, ttlOr(recipe))()
  // The value is deleted even when the new generation could not be written; the failure is reported.
  const dropped = await drop(recipe, key.right)
  const deleted = E.isLeft(bumped) ? bumped : dropped
  // The other replicas' tiers and loads, told (a failed publish is the backplane's to report).
  if (recipe.backplane !== undefined) await recipe.backplane.publish('delete', key.right)
  // A write of this process that began before now and is still on its way drops itself once it
  // lands (the fence says so): this invalidation is done when it has.
  await recipe.landings.get(key.right)
  // A read issued while the delete was under way may have found the old value still there: it does
  // not refill the tier, and a call made from now on does not join it (it began before the delete
  // was done). Its own caller, who asked before this invalidation resolved, still gets what it read.
  recipe.l1?.invalidate(key.right)
  recipe.dedup?.forget(key.right)
  if (E.isLeft(deleted)) {
    const located = CE.withKey(key.right)(deleted.left)
    recipe.metrics.recordError(key.right, located, recipe.context)
    return E.left(located)
  }
  return deleted
}

/**
 * Drops every entry carrying one of `tags` (see `internal/tags.ts`): from the store, from this
 * function's tier and loads, and, with a backplane, from every replica's (this one's other
 * functions included). Resolves once all are deleted and told; a failure is counted and returned.
 */
export const invalidateTag = async (recipe: Recipe, tags: unknown): Promise<E.Either<CacheError, TagInvalidation>> => {
  const checked = checkTags(typeof tags === 'string' ? [tags] : tags)
  if (E.isLeft(checked)) {
    recipe.metrics.recordError(undefined, checked.left, recipe.context)
    return checked
  }
  // Every function's companions, not just this one's: the tag spans every function of the prefix.
  const companions = [...TAG_COMPANIONS, ...recipe.companions.filter((companion) => !TAG_COMPANIONS.includes(companion))]
  const result = await invalidateTagIndexes(recipe.store, recipe.prefix, checked.right, companions, async (keys, tag) => {
    for (const key of keys) forgetHere(recipe, key)
    recipe.backplane?.echo?.({ kind: 'delete', keys })
    recipe.metrics.recordTagInvalidation?.(tag, keys.length, recipe.context)
    // The other replicas told (one message per chunk), and this function's writes of these keys
    // still on their way landed and deleted, before the next chunk.
    await Promise.all([
      ...(recipe.backplane === undefined ? [] : keys.map((key) => recipe.backplane?.publish('delete', key))),
      ...keys.map((key) => recipe.landings.get(key)),
    ])
  })
  if (E.isLeft(result)) recipe.metrics.recordError(undefined, result.left, recipe.context)
  return result
}
