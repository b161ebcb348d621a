/**
 * Tags: groups of entries dropped together without knowing their arguments (everything of one
 * user, one tenant, one product). A cached function says which tags each value carries
 * (`withTags((args, value) => tags)`, `cacheable({ tags })`); `invalidateTag(tag)` on any cached
 * function, or `invalidateTags(store, tags)` for a store, deletes every entry carrying them from the
 * store itself, so a reader that knows nothing of tags (the Python library) gets a miss.
 *
 * Each tag has an index in the state store, changed only with versions (Dapr's ETags), so that
 * writers adding keys at once lose none; a write joins the indexes before its value is written, and
 * a tag invalidation writes a new epoch that every computation under way checks after its write (a
 * value computed before the invalidation is not left behind it). The key space is the library's own:
 * `<prefix>:tags:<tag>:<n>` and `<prefix>:tags:epoch` (docs/tags.md has the protocol and the cost).
 *
 * @since 0.5.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from './CacheError.js'
import type { Cached, Step } from './Cached.js'
import { step } from './Cached.js'
import type { CacheMetrics } from './Metrics.js'
import { combineMetrics, metricsSinkCodec } from './Metrics.js'
import type { Store } from './Store.js'
import { busCodec, checkOption, functionOf, group, keyPart, optional } from './internal/options.js'
import { guarded } from './internal/guardedStore.js'
import type { TagInvalidation } from './internal/tags.js'
import { TAG_COMPANIONS, checkTags, invalidateTagIndexes } from './internal/tags.js'
import * as t from 'io-ts'

export type { TagInvalidation } from './internal/tags.js'

/**
 * Which tags a value carries, from the call's arguments and the value computed.
 *
 * @category model
 * @since 0.5.0
 */
export type TagsOf<Args, A> = (args: Args, value: A) => ReadonlyArray<string>

/** The tags function, as the options describe it. */
export const tagsCodec = functionOf<TagsOf<never, never>>('a function (args, value) => tags')

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Each value computed carries the tags `tagsOf(args, value)` gives (strings of at most 1 KiB, not
 * empty): its key joins their indexes before it is written, and `invalidateTag` deletes it. A tags
 * function that throws or gives something else makes the call run uncached (reported). Needs a
 * store with versioned entries (`daprStore`, `memoryStore`).
 *
 * @category combinators
 * @since 0.5.0
 */
export function withTags<Args extends ReadonlyArray<unknown>, A>(tagsOf: TagsOf<Args, A>): <Err>(self: Cached<Args, Err, A>) => Cached<Args, Err, A>
export function withTags(tagsOf: TagsOf<never, never>): Step {
  const checked = checkOption('tags', tagsCodec, tagsOf)
  return step('withTags', () => ({ tags: checked }))
}

// -------------------------------------------------------------------------------------
// standalone
// -------------------------------------------------------------------------------------

/**
 * The options of `invalidateTags`: the key prefix of the functions that tagged (default
 * `"cache"`), a backplane to tell the replicas, and metrics sinks for its progress.
 *
 * @category model
 * @since 0.5.0
 */
export const InvalidateTagsOptionsCodec = group('InvalidateTagsOptions', {
  prefix: optional(keyPart),
  backplane: optional(busCodec),
  metrics: optional(t.readonlyArray(metricsSinkCodec, 'an array of CacheMetrics sinks')),
})

/**
 * @category model
 * @since 0.5.0
 */
export type InvalidateTagsOptions = t.TypeOf<typeof InvalidateTagsOptionsCodec>

/**
 * Deletes every entry carrying one of `tags` from `store` (with its companion entries), and with a
 * backplane tells every replica's tier. For the tags of every function with that key prefix; a
 * cached function's own `invalidateTag` does the same and drops its tier's copies too.
 *
 * @category constructors
 * @since 0.5.0
 */
export const invalidateTags = (store: Store, tags: string | ReadonlyArray<string>, options: InvalidateTagsOptions = {}): TE.TaskEither<CacheError, TagInvalidation> => {
  const decoded = checkOption('invalidateTags', InvalidateTagsOptionsCodec, options)
  const metrics: CacheMetrics = combineMetrics(decoded.metrics ?? [])
  return async () => {
    const checked = checkTags(typeof tags === 'string' ? [tags] : tags)
    if (E.isLeft(checked)) return checked
    const bus = decoded.backplane
    return invalidateTagIndexes(guarded(store), decoded.prefix ?? 'cache', checked.right, TAG_COMPANIONS, async (keys, tag) => {
      bus?.echo?.({ kind: 'delete', keys })
      metrics.recordTagInvalidation?.(tag, keys.length)
      if (bus !== undefined) await Promise.all(keys.map((key) => bus.publish('delete', key)))
    })
  }
}
