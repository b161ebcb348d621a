/**
 * Where the cache says that something went wrong, without flooding anyone.
 *
 * `Logger` is the `warn`/`error`/`debug` shape that `console` and pino share. `cacheWarnings`
 * turns cache failures into warnings, at most one line per error code per interval, with a count of
 * what it held back, so a dead sidecar under load gives a few lines a minute rather than one per call.
 * Messages name the key's function and the error code; they never include a token or a value.
 *
 * @since 0.1.0
 */
import type { CacheError } from './CacheError.js'
import type { Clock } from './Clock.js'
import { systemClock } from './Clock.js'

/**
 * @category model
 * @since 0.1.0
 */
export interface Logger {
  /** Where the library's warnings go (cache failures, a store without leases). */
  warn(message: string, ...meta: ReadonlyArray<unknown>): void
  /** Not used by the library; part of the shape `console` and pino share. */
  error?(message: string, ...meta: ReadonlyArray<unknown>): void
  /** Not used by the library; part of the shape `console` and pino share. */
  debug?(message: string, ...meta: ReadonlyArray<unknown>): void
}

/**
 * A logger that says nothing.
 *
 * @category instances
 * @since 0.1.0
 */
export const silentLogger: Logger = { warn: () => undefined }

/**
 * Reports one cache failure.
 *
 * @category model
 * @since 0.1.0
 */
export type ErrorReporter = (key: string | undefined, error: CacheError) => void

/**
 * Warnings for cache failures through `logger` (default: `console`), rate-limited per error code.
 *
 * @category constructors
 * @since 0.1.0
 */
export const cacheWarnings = (
  options: { readonly logger?: Logger | undefined; readonly intervalMs?: number | undefined; readonly clock?: Clock | undefined } = {},
): ErrorReporter => {
  const logger = options.logger ?? console
  const intervalMs = options.intervalMs ?? 60_000
  const clock = options.clock ?? systemClock
  const windows = new Map<string, { openedAt: number; suppressed: number }>()

  return (key, error) => {
    const now = clock.now()
    const window = windows.get(error.code)
    if (window !== undefined && now - window.openedAt < intervalMs) {
      window.suppressed++
      return
    }
    const held = window === undefined || window.suppressed === 0 ? '' : ` (${window.suppressed} more since the last warning)`
    windows.set(error.code, { openedAt: now, suppressed: 0 })
    try {
      logger.warn(`dapr-state-cache: ${error.code} ${error.message}; the call ran uncached${held}`, {
        code: error.code,
        key,
      })
    } catch {
      // A broken logger must not break the call either.
    }
  }
}
