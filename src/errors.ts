/**
 * The facade's `Error` classes, with the Python library's names.
 *
 * The engine works with `CacheError` values (see `CacheError.ts`); these classes exist for code that
 * catches: what `invalidate` rejects with, and what `cacheable` throws for a bad option at wrap time.
 * Each instance carries the stable `code`, the `key` when known, and the value it was made from
 * (`failure`), so nothing about the original error is lost.
 *
 * @since 0.1.0
 */
import type * as CE from './CacheError.js'

/**
 * Base class of every error the library throws or rejects with.
 *
 * @category model
 * @since 0.1.0
 */
export class CacheError extends Error {
  override readonly name: string = 'CacheError'
  readonly code: CE.Code | CE.FunctionTimeout['code']
  readonly key: string | undefined
  /** The error value this was made from. */
  readonly failure: CE.CacheError | CE.FunctionTimeout

  constructor(failure: CE.CacheError | CE.FunctionTimeout) {
    const cause = failure._tag === 'FunctionTimeout' ? undefined : failure.cause
    super(failure.message, cause === undefined ? undefined : { cause })
    this.code = failure.code
    this.key = failure.key
    this.failure = failure
  }
}

/**
 * The arguments cannot be made into a key (or a custom key is not acceptable).
 *
 * @category model
 * @since 0.1.0
 */
export class CacheKeyError extends CacheError {
  override readonly name: string = 'CacheKeyError'
}

/**
 * A value could not be serialized, deserialized, or validated against the pipeline's decoder.
 *
 * @category model
 * @since 0.1.0
 */
export class CacheSerializationError extends CacheError {
  override readonly name: string = 'CacheSerializationError'
}

/**
 * The store could not be reached, did not answer in time, or is skipped while its breaker is open.
 *
 * @category model
 * @since 0.1.0
 */
export class CacheConnectionError extends CacheError {
  override readonly name: string = 'CacheConnectionError'
}

/**
 * The store answered and refused (an HTTP error status from the sidecar, for example).
 *
 * @category model
 * @since 0.1.0
 */
export class CacheStoreError extends CacheError {
  override readonly name: string = 'CacheStoreError'
  /** The HTTP status, `0` when the store has none. */
  readonly status: number
  /** Dapr's own `errorCode`, when the sidecar sent one. */
  readonly errorCode: string | undefined

  constructor(failure: CE.StoreRejected | CE.ValueTooLarge) {
    super(failure)
    this.status = failure._tag === 'StoreRejected' ? failure.status : 0
    this.errorCode = failure._tag === 'StoreRejected' ? failure.errorCode : undefined
  }
}

/**
 * An option is not acceptable. Thrown when a function is wrapped or a store is built, never at call time.
 *
 * @category model
 * @since 0.1.0
 */
export class CacheOptionsError extends CacheError {
  override readonly name: string = 'CacheOptionsError'
  readonly option: string

  constructor(failure: CE.InvalidOptions) {
    super(failure)
    this.option = failure.option
  }
}

/**
 * The cached function did not answer within `timeouts.hardMs`, and no stale value could stand in.
 * The computation goes on; its value is written when it lands.
 *
 * @category model
 * @since 0.3.0
 */
export class CacheFunctionTimeoutError extends CacheError {
  override readonly name: string = 'CacheFunctionTimeoutError'
  readonly timeoutMs: number

  constructor(failure: CE.FunctionTimeout) {
    super(failure)
    this.timeoutMs = failure.timeoutMs
  }
}

/**
 * The `Error` for a `CacheError` value: the class matches the kind of failure.
 *
 * @category destructors
 * @since 0.1.0
 */
export function toError(failure: CE.FunctionTimeout): CacheFunctionTimeoutError
export function toError(failure: CE.CacheError | CE.FunctionTimeout): CacheError
export function toError(failure: CE.CacheError | CE.FunctionTimeout): CacheError {
  switch (failure._tag) {
    case 'KeyError':
      return new CacheKeyError(failure)
    case 'SerializationError':
    case 'ValidationError':
      return new CacheSerializationError(failure)
    case 'ConnectionError':
    case 'TimeoutError':
    case 'CircuitOpen':
      return new CacheConnectionError(failure)
    case 'StoreRejected':
    case 'ValueTooLarge':
      return new CacheStoreError(failure)
    case 'InvalidOptions':
      return new CacheOptionsError(failure)
    case 'FunctionTimeout':
      return new CacheFunctionTimeoutError(failure)
  }
}
