/**
 * What a cached function does with its backplane: it publishes each write that landed and each
 * invalidation, hears the other replicas' (its tier drops their keys, its loads of a key invalidated
 * elsewhere are fenced as for a local invalidation), and uses its tier only while the bus is heard.
 */
import type { BackplaneEvent, Bus, L1 } from './parts.js'
import type { Recipe } from './recipe.js'
import { forgetHere } from './invalidate.js'
import { drop } from './write.js'
import { OVERTAKE_WINDOW_MS } from './messages.js'

/** How many landed writes are remembered before the old ones are forgotten. */
const MAX_LANDED = 10_000

/** The tier, used only while the bus is heard: otherwise reads go to the store and keep nothing. */
export const trustedTier = (tier: L1, bus: Bus): L1 => ({
  ...tier,
  get: (key) => (bus.trusted() ? tier.get(key) : undefined),
  fill: (key, value, sizeBytes, entryTtlSeconds, ticket) => {
    if (bus.trusted()) tier.fill(key, value, sizeBytes, entryTtlSeconds, ticket)
  },
})

/**
 * The recipe hears the other replicas' changes for as long as it lives: the backplane holds it
 * weakly, so a cached function that is dropped (one made per request, say) is not kept alive by
 * its subscription, which ends at the first message after it was collected.
 */
export const hear = (of: Recipe, bus: Bus): void => {
  const held = new WeakRef(of)
  const stop = bus.subscribe((event: BackplaneEvent) => {
    const recipe = held.deref()
    if (recipe === undefined) {
      stop()
      return
    }
    if (event.kind === 'clear') {
      recipe.l1?.clear()
      return
    }
    for (const key of event.keys) {
      if (event.kind === 'set') {
        // Another replica wrote a new value: the tier drops its copy and keeps no read begun before.
        recipe.l1?.invalidate(key, true)
        continue
      }
      forgetHere(recipe, key)
      overtaken(recipe, key)
    }
  })
}

/** A write of this process landed: it is published, and remembered for a while (see `OVERTAKE_WINDOW_MS`). */
export const landed = (recipe: Recipe, key: string): void => {
  const writes = recipe.landed
  if (writes === undefined || recipe.backplane === undefined) return
  const now = performance.now()
  writes.delete(key)
  writes.set(key, now)
  if (writes.size > MAX_LANDED) {
    for (const [old, at] of writes) {
      if (now - at <= OVERTAKE_WINDOW_MS && writes.size <= MAX_LANDED) break
      writes.delete(old)
    }
  }
  // A new value matters to the other replicas' tiers only: a function without one (and so, its
  // replicas, which run the same code) does not publish its writes.
  if (recipe.l1 !== undefined) void recipe.backplane.publish('set', key)
}

/** A write of this process that another replica's invalidation may have overtaken is deleted, and that is published. */
const overtaken = (recipe: Recipe, key: string): void => {
  const at = recipe.landed?.get(key)
  if (at === undefined) return
  recipe.landed?.delete(key)
  if (performance.now() - at > OVERTAKE_WINDOW_MS) return
  void drop(recipe, key).then(() => recipe.backplane?.publish('delete', key))
}
