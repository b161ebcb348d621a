/**
 * The spread of a TTL, for `withJitter` and the engine's writes.
 *
 * @since 0.3.0
 */

/**
 * `ttlSeconds` spread by up to `fraction` of itself either way, in whole seconds, at least 1;
 * `random` (default `Math.random`) draws a number in [0, 1).
 *
 * @category utils
 * @since 0.3.0
 */
export const jittered = (ttlSeconds: number, fraction: number, random: () => number = Math.random): number =>
  Math.max(1, Math.round(ttlSeconds * (1 + fraction * (2 * random() - 1))))
