/**
 * What can go wrong on the cache side of a call, as data.
 *
 * A `CacheError` is a tagged union: each member has a `_tag`, a stable `code` that dashboards and
 * alerts can rely on, a human `message`, the cache `key` when one was known, and the underlying
 * `cause`. The engine passes these values around in `TaskEither`'s left channel; nothing here
 * throws. Turning one into a thrown `Error` is a separate step (`toError` in `errors.ts`), taken only
 * by the Promise facade.
 *
 * The function's own failures are never `CacheError`s: they travel separately and unchanged.
 *
 * @since 0.1.0
 */

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * Stable error codes, one per kind of failure.
 *
 * @category model
 * @since 0.1.0
 */
export const codes = {
  KeyError: 'E_CACHE_KEY',
  SerializationError: 'E_CACHE_SERIALIZATION',
  ValidationError: 'E_CACHE_VALIDATION',
  ConnectionError: 'E_CACHE_CONNECTION',
  TimeoutError: 'E_CACHE_TIMEOUT',
  StoreRejected: 'E_CACHE_STORE_REJECTED',
  InvalidOptions: 'E_CACHE_INVALID_OPTIONS',
  CircuitOpen: 'E_CACHE_CIRCUIT_OPEN',
  ValueTooLarge: 'E_CACHE_VALUE_TOO_LARGE',
} as const

/**
 * @category model
 * @since 0.1.0
 */
export type Code = (typeof codes)[keyof typeof codes]

/**
 * What every `CacheError` has: its tag, its stable code, a message, and the key and cause when known.
 *
 * @category model
 * @since 0.1.0
 */
export interface Base<Tag extends keyof typeof codes> {
  readonly _tag: Tag
  readonly code: (typeof codes)[Tag]
  readonly message: string
  /** The cache key concerned, when it was known. */
  readonly key?: string | undefined
  readonly cause?: unknown
}

/**
 * The arguments (or the key a custom `KeyBuilder` returned) cannot make a key.
 *
 * @category model
 * @since 0.1.0
 */
export type KeyError = Base<'KeyError'>

/**
 * A value could not be turned into bytes, or bytes back into a value.
 *
 * @category model
 * @since 0.1.0
 */
export interface SerializationError extends Base<'SerializationError'> {
  readonly operation: 'serialize' | 'deserialize'
}

/**
 * A cached value was read fine but does not have the shape the pipeline's decoder expects.
 *
 * @category model
 * @since 0.1.0
 */
export type ValidationError = Base<'ValidationError'>

/**
 * The store could not be reached (refused, reset, closed).
 *
 * @category model
 * @since 0.1.0
 */
export type ConnectionError = Base<'ConnectionError'>

/**
 * The store did not answer within its budget.
 *
 * @category model
 * @since 0.1.0
 */
export interface TimeoutError extends Base<'TimeoutError'> {
  readonly timeoutMs: number
}

/**
 * The store answered, and refused. `status` is the HTTP status (or `0` for a store without one);
 * `errorCode` is Dapr's own code (`ERR_STATE_GET`, ...) when the body carried one.
 *
 * @category model
 * @since 0.1.0
 */
export interface StoreRejected extends Base<'StoreRejected'> {
  readonly status: number
  readonly errorCode?: string | undefined
}

/**
 * An option given to a store, a combinator or `cacheable` is not acceptable.
 *
 * @category model
 * @since 0.1.0
 */
export interface InvalidOptions extends Base<'InvalidOptions'> {
  readonly option: string
  readonly value: unknown
}

/**
 * The store failed too often in a row: its circuit breaker is open and the cache is skipped until
 * `retryAt` (epoch milliseconds), when one probe decides.
 *
 * @category model
 * @since 0.1.0
 */
export interface CircuitOpen extends Base<'CircuitOpen'> {
  readonly retryAt: number
}

/**
 * A value over the store's size limit: refused before it was sent (`write`), or a read stopped as
 * soon as the answer was known to exceed it (`read`; `sizeBytes` is then what was known: the
 * announced length, or the bytes received so far).
 *
 * @category model
 * @since 0.2.0
 */
export interface ValueTooLarge extends Base<'ValueTooLarge'> {
  readonly operation: 'read' | 'write'
  readonly sizeBytes: number
  readonly limitBytes: number
}

/**
 * @category model
 * @since 0.1.0
 */
export type CacheError =
  | KeyError
  | SerializationError
  | ValidationError
  | ConnectionError
  | TimeoutError
  | StoreRejected
  | InvalidOptions
  | CircuitOpen
  | ValueTooLarge

/**
 * @category model
 * @since 0.1.0
 */
export type Tag = CacheError['_tag']

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * The optional facts a constructor records with an error: the key it was about, the underlying cause.
 *
 * @category model
 * @since 0.1.0
 */
export interface Details {
  readonly key?: string | undefined
  readonly cause?: unknown
}

const optional = (details: Details | undefined): Details => {
  if (details === undefined) return {}
  const out: { key?: string; cause?: unknown } = {}
  if (details.key !== undefined) out.key = details.key
  if (details.cause !== undefined) out.cause = details.cause
  return out
}

/**
 * @category constructors
 * @since 0.1.0
 */
export const keyError = (message: string, details?: Details): CacheError => ({
  _tag: 'KeyError',
  code: codes.KeyError,
  message,
  ...optional(details),
})

/**
 * @category constructors
 * @since 0.1.0
 */
export const serializationError = (
  operation: SerializationError['operation'],
  message: string,
  details?: Details,
): CacheError => ({
  _tag: 'SerializationError',
  code: codes.SerializationError,
  operation,
  message,
  ...optional(details),
})

/**
 * @category constructors
 * @since 0.1.0
 */
export const validationError = (message: string, details?: Details): CacheError => ({
  _tag: 'ValidationError',
  code: codes.ValidationError,
  message,
  ...optional(details),
})

/**
 * @category constructors
 * @since 0.1.0
 */
export const connectionError = (message: string, details?: Details): CacheError => ({
  _tag: 'ConnectionError',
  code: codes.ConnectionError,
  message,
  ...optional(details),
})

/**
 * @category constructors
 * @since 0.1.0
 */
export const timeoutError = (timeoutMs: number, message: string, details?: Details): CacheError => ({
  _tag: 'TimeoutError',
  code: codes.TimeoutError,
  timeoutMs,
  message,
  ...optional(details),
})

/**
 * @category constructors
 * @since 0.1.0
 */
export const storeRejected = (
  status: number,
  message: string,
  details?: Details & { readonly errorCode?: string | undefined },
): CacheError => ({
  _tag: 'StoreRejected',
  code: codes.StoreRejected,
  status,
  ...(details?.errorCode === undefined ? {} : { errorCode: details.errorCode }),
  message,
  ...optional(details),
})

/**
 * @category constructors
 * @since 0.1.0
 */
export const invalidOptions = (option: string, value: unknown, expected: string): CacheError => ({
  _tag: 'InvalidOptions',
  code: codes.InvalidOptions,
  option,
  value,
  message: `invalid option \`${option}\`: expected ${expected}, got ${describe(value)}`,
})

/**
 * @category constructors
 * @since 0.1.0
 */
export const circuitOpen = (store: string, retryAt: number, details?: Details): CacheError => ({
  _tag: 'CircuitOpen',
  code: codes.CircuitOpen,
  retryAt,
  message: `the circuit breaker of store ${JSON.stringify(store)} is open after repeated failures; the cache is skipped until ${new Date(retryAt).toISOString()}`,
  ...optional(details),
})

/**
 * @category constructors
 * @since 0.2.0
 */
export const valueTooLarge = (operation: ValueTooLarge['operation'], sizeBytes: number, limitBytes: number, details?: Details): CacheError => ({
  _tag: 'ValueTooLarge',
  code: codes.ValueTooLarge,
  operation,
  sizeBytes,
  limitBytes,
  message:
    operation === 'read'
      ? `the stored value is larger than the limit of ${limitBytes} bytes (at least ${sizeBytes}); the read was stopped`
      : `the value is ${sizeBytes} bytes, over the limit of ${limitBytes}; it was not sent`,
  ...optional(details),
})

/**
 * The same error, now about `key` (kept when the error already names one).
 *
 * @category combinators
 * @since 0.1.0
 */
export const withKey =
  (key: string) =>
  (error: CacheError): CacheError =>
    error.key === undefined ? { ...error, key } : error

// -------------------------------------------------------------------------------------
// refinements
// -------------------------------------------------------------------------------------

const tags: ReadonlySet<string> = new Set(Object.keys(codes))

/**
 * Whether `u` is a `CacheError` value (any member of the union).
 *
 * @category refinements
 * @since 0.1.0
 */
export const isCacheError = (u: unknown): u is CacheError =>
  typeof u === 'object' &&
  u !== null &&
  '_tag' in u &&
  typeof u._tag === 'string' &&
  tags.has(u._tag) &&
  'code' in u &&
  u.code === codes[u._tag as Tag]

/**
 * @category refinements
 * @since 0.1.0
 */
export const is =
  <T extends Tag>(tag: T) =>
  (error: CacheError): error is Extract<CacheError, { _tag: T }> =>
    error._tag === tag

// -------------------------------------------------------------------------------------
// pattern matching
// -------------------------------------------------------------------------------------

/**
 * Exhaustive case analysis on the tag.
 *
 * @category pattern matching
 * @since 0.1.0
 */
export const match =
  <R>(cases: { readonly [T in Tag]: (error: Extract<CacheError, { _tag: T }>) => R }) =>
  (error: CacheError): R =>
    (cases[error._tag] as (error: CacheError) => R)(error)

// -------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------

/**
 * A short, safe rendering of any value for error messages: never throws, never prints a secret-sized
 * blob (long strings are cut).
 *
 * @category utils
 * @since 0.1.0
 */
export const describe = (value: unknown): string => {
  if (value === NOT_SHOWN) return 'a value not shown (it may hold a secret)'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value)
    case 'bigint':
      return `${value}n`
    case 'symbol':
      return value.toString()
    case 'function':
      return value.name === '' ? 'an anonymous function' : `function ${value.name}`
    default: {
      if (value === null) return 'null'
      try {
        if (Array.isArray(value)) return `an array of ${value.length}`
        const constructorName = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
        return typeof constructorName === 'string' && constructorName !== '' && constructorName !== 'Object'
          ? `an instance of ${constructorName}`
          : 'an object'
      } catch {
        return 'an object that cannot be looked at (a Proxy that throws, say)'
      }
    }
  }
}

/**
 * Stands for an option's value in an error when the value must not be shown: an option nobody
 * knows (a `daprUrl` or an `apiToken` given to the wrong function may hold a secret), a token.
 *
 * @category utils
 * @since 0.4.0
 */
export const NOT_SHOWN: unique symbol = Symbol('dapr-state-cache/not-shown')

/**
 * `value instanceof type`, false when asking throws (a Proxy whose `getPrototypeOf` trap throws):
 * for values a user's code threw or returned, which the library must look at without failing.
 *
 * @category utils
 * @since 0.4.0
 */
export const isInstance = <T>(value: unknown, type: abstract new (...args: never) => T): value is T => {
  try {
    return value instanceof type
  } catch {
    return false
  }
}

/**
 * What a thrown `cause` says, for an error message. Never throws, whatever was thrown: a Proxy that
 * throws on every trap, an object whose `toString` throws, a revoked Proxy.
 *
 * @category utils
 * @since 0.4.0
 */
export const messageOf = (cause: unknown): string => {
  try {
    return isInstance(cause, Error) ? String(cause.message) : String(cause)
  } catch {
    return describe(cause)
  }
}

// -------------------------------------------------------------------------------------
// the function's timeout
// -------------------------------------------------------------------------------------

/**
 * The cached function did not answer within the hard timeout (`withTimeouts`, `timeouts.hardMs`), and
 * no stale value could stand in for it. A tagged error value like the others, with a stable code, but
 * deliberately not a member of `CacheError`: it is not a failure of the cache, `orElseUncached` does
 * not recover from it (the function already runs, and goes on running), and keeping it apart keeps
 * it in the error type whatever the order of the steps. Its value is written when it lands.
 *
 * @category model
 * @since 0.3.0
 */
export interface FunctionTimeout {
  readonly _tag: 'FunctionTimeout'
  readonly code: 'E_CACHE_FUNCTION_TIMEOUT'
  readonly message: string
  /** The cache key concerned. */
  readonly key?: string | undefined
  readonly timeoutMs: number
}

/**
 * @category constructors
 * @since 0.3.0
 */
export const functionTimeout = (timeoutMs: number, key?: string): FunctionTimeout => ({
  _tag: 'FunctionTimeout',
  code: 'E_CACHE_FUNCTION_TIMEOUT',
  timeoutMs,
  message: `the cached function did not answer within ${timeoutMs} ms (it goes on, and its value is written when it lands)`,
  ...(key === undefined ? {} : { key }),
})

/**
 * @category refinements
 * @since 0.3.0
 */
export const isFunctionTimeout = (u: unknown): u is FunctionTimeout =>
  typeof u === 'object' && u !== null && (u as FunctionTimeout)._tag === 'FunctionTimeout' && (u as FunctionTimeout).code === 'E_CACHE_FUNCTION_TIMEOUT'
